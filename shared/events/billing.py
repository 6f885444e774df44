"""What the billing service publishes on `ticketflow.billing`.

`charge.assessed` / `charge.voided` carry the charge; `prepaid.low` / `prepaid.exhausted` the
account's prepaid balance; `tam.budget_warning` (75 %) / `tam.budget_exhausted` the month's TAM
hours. Ids are deterministic (what caused it and what it says), so a record published again
after a crash carries the id of the first: consumers deduplicate by `id`. Kafka key =
ce_subject = the ticket whose event caused it (as on every topic), `account` names the ledger,
`ce_type` header = `type`. Amounts are decimal strings ("200.00"), never floats."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BILLING_NAMESPACE = uuid.UUID("6a0d2e4b-31c7-4f58-9b1e-7c2f8d5a9e13")

BillingEventType = Literal[
    "charge.assessed",
    "charge.voided",
    "prepaid.low",
    "prepaid.exhausted",
    "tam.budget_warning",
    "tam.budget_exhausted",
]
BILLING_EVENT_TYPES: tuple[str, ...] = BillingEventType.__args__  # type: ignore[attr-defined]


def billing_event_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(BILLING_NAMESPACE, "|".join(str(part) for part in parts))


class ChargeBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    charge_id: uuid.UUID = Field(
        description="Deterministic: ticket, charge key and the event that assessed it"
    )
    ticket_id: str
    rule: str = Field(description="The policy's charge rule")
    basis: Literal["incident", "hours", "quote"]
    amount: str | None = Field(
        description="Decimal string; null: no rate on the account's rate card"
    )
    currency: str | None
    worked_minutes: int = Field(ge=0)
    billed_minutes: int = Field(ge=0, description="After rounding and the minimum")
    prepaid_minutes: int = Field(ge=0, description="Drawn from prepaid time, not billed")
    rate: str | None = Field(default=None, description="Hourly rate (decimal string)")
    month: str = Field(description="Statement month, YYYY-MM", pattern=r"^\d{4}-\d{2}$")
    source: str = Field(description="The document's sentence the rule implements")


class PrepaidBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    balance_minutes: int = Field(description="Prepaid time left (0 or less: exhausted)")
    low_at_minutes: int = Field(ge=0)


class TamBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    used_minutes: int = Field(ge=0)
    budget_hours: int = Field(ge=0)


class BillingEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(description="Deterministic: deduplicate by it")
    type: BillingEventType
    account: str = Field(description="The account (Kafka key)")
    policy: str = Field(description="Pinned policy `id@version` of the ticket that caused it")
    ticket_id: str = Field(description="The ticket whose event caused it")
    at: datetime = Field(description="Event time of the ticket event that caused it")
    causation_id: uuid.UUID = Field(description="Id of that ticket event")
    charge: ChargeBody | None = None
    prepaid: PrepaidBody | None = None
    tam: TamBody | None = None
