"""The events billing publishes, built from what caused them (deterministic ids)."""

from __future__ import annotations

from typing import Literal

from services.billing.domain.accounts import LedgerCharge
from services.billing.domain.history import TicketEventIn
from shared.events.billing import (
    BillingEvent,
    ChargeBody,
    PrepaidBody,
    TamBody,
    billing_event_id,
)


def charge_body(entry: LedgerCharge) -> ChargeBody:
    charge = entry.charge
    return ChargeBody(
        charge_id=entry.charge_id,
        ticket_id=entry.ticket_id,
        rule=charge.rule,
        basis=charge.basis.value,
        amount=None if charge.amount is None else str(charge.amount),
        currency=charge.currency,
        worked_minutes=charge.worked_minutes,
        billed_minutes=charge.billed_minutes,
        prepaid_minutes=charge.prepaid_minutes,
        rate=None if charge.rate is None else str(charge.rate),
        month=entry.month,
        source=charge.source,
    )


def _event(kind: str, incoming: TicketEventIn, *parts: object) -> dict[str, object]:
    return {
        "id": billing_event_id(kind, *parts),
        "type": kind,
        "account": incoming.account,
        "policy": incoming.policy,
        "ticket_id": incoming.ticket_id,
        "at": incoming.event.at,
        "causation_id": incoming.event_id,
    }


def charge_event(
    kind: Literal["charge.assessed", "charge.voided"], entry: LedgerCharge, incoming: TicketEventIn
) -> BillingEvent:
    return BillingEvent.model_validate(
        {**_event(kind, incoming, entry.charge_id), "charge": charge_body(entry)}
    )


def prepaid_event(kind: str, balance: int, low_at: int, incoming: TicketEventIn) -> BillingEvent:
    body = PrepaidBody(balance_minutes=balance, low_at_minutes=low_at)
    return BillingEvent.model_validate(
        {**_event(kind, incoming, incoming.account, incoming.event_id), "prepaid": body}
    )


def tam_event(
    kind: str, month: str, used: int, hours: int, incoming: TicketEventIn
) -> BillingEvent:
    body = TamBody(month=month, used_minutes=used, budget_hours=hours)
    return BillingEvent.model_validate(
        {**_event(kind, incoming, incoming.account, month), "tam": body}
    )
