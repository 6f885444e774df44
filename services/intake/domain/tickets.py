"""The current state of a ticket as intake keeps it (the `tickets` read model)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TicketRow:
    ticket_id: uuid.UUID
    account_id: str
    number: str
    policy: str
    priority: str
    plan: str | None
    status: str
    version: int
    opened_at: datetime
    updated_at: datetime
