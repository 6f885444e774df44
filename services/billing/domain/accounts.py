"""An account's ledger as stored: its charges with their ids and statement month, and what it
has of prepaid time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.billing.domain.charges import Charge

STATEMENT_ZONE = "UTC"
"""Statement months are UTC calendar months (TAM months follow the policy's `tam.timezone`)."""


@dataclass(frozen=True, slots=True)
class LedgerCharge:
    charge_id: uuid.UUID
    ticket_id: str
    account: str
    policy: str
    month: str
    assessed_at: datetime
    charge: Charge
    voided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Prepaid:
    balance_minutes: int
    low_at_minutes: int


@dataclass(frozen=True, slots=True)
class TamUsage:
    month: str
    used_minutes: int
    budget_hours: int

    @property
    def left_minutes(self) -> int:
        return max(self.budget_hours * 60 - self.used_minutes, 0)
