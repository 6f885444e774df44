"""The current state of a ticket as intake keeps it (the `tickets` read model)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.domain.lifecycle import ClosedReason, Resolution
from shared.events import Envelope


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
    channel: str | None = None
    """The channel it was opened through (None on rows from before migration 005)."""
    resolution: Resolution | None = None
    """`resolution` or `workaround` once either is given; None again after a reopen."""
    closed_reason: ClosedReason | None = None
    """`timeout`, `resolution`, `workaround` or `closed` while closed (`lifecycle.py`)."""

    def next_event(
        self,
        event_type: str,
        at: datetime,
        data: dict[str, Any],
        *,
        source: str = "intake",
        causation_id: uuid.UUID | None = None,
    ) -> Envelope:
        """The envelope of this ticket's next event (version + 1, same account and policy)."""
        return Envelope(
            type=event_type,
            source=source,
            subject=str(self.ticket_id),
            time=at,
            sequence=self.version + 1,
            account=self.account_id,
            policy=self.policy,
            causation_id=causation_id,
            data=data,
        )
