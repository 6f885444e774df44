"""Billing's use cases on the in-memory ledger: what each event assesses, voids and
announces, and that redelivery changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.billing.adapters.memory import MemoryLedger
from services.billing.domain.rules import AccountTerms, Money
from services.billing.domain.statement import to_csv
from services.billing.service_layer.ledger import (
    Biller,
    UnknownPolicy,
    UnknownTicket,
)
from services.billing.service_layer.reads import BillingReads
from shared.policy import policies_by_ref
from tests.unit.billing_tickets import Ticket

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICIES = policies_by_ref()


def biller(ledger: MemoryLedger) -> Biller:
    return Biller(ledger, POLICIES, lambda: NOW)


def types(ledger: MemoryLedger) -> list[str]:
    return [event.type for event in ledger.published]


async def test_an_off_hours_p1_not_at_fault_is_charged_once_and_voided_on_a_new_finding() -> None:
    ledger = MemoryLedger()
    billing = biller(ledger)
    ticket = Ticket("hosted-voice@1")
    events = [
        ticket.opened("p1", flags=("off_hours_p1_billable_review",)),
        ticket.work(0, 90, "off_hours"),
        ticket.event("ticket.determination_recorded", 120, fault="customer"),
    ]
    assert [await billing.on_ticket_event(e) for e in events] == ["recorded"] * 3
    assert types(ledger) == ["charge.assessed"]
    charge = ledger.published[0].charge
    assert charge is not None and (charge.amount, charge.currency, charge.billed_minutes) == (
        "200.00",
        "USD",
        120,
    )
    assert [await billing.on_ticket_event(e) for e in events] == ["duplicate"] * 3
    assert types(ledger) == ["charge.assessed"]
    await billing.on_ticket_event(
        ticket.event("ticket.determination_recorded", 200, fault="provider")
    )
    assert types(ledger) == ["charge.assessed", "charge.voided"]
    voided = ledger.published[1].charge
    assert voided is not None and voided.charge_id == charge.charge_id
    statement = await BillingReads(ledger).statement("acme", "2026-11")
    assert statement.lines == () and statement.totals == {}


async def test_a_prepaid_ess_session_runs_out_of_time() -> None:
    """voice1: 90 prepaid minutes, low at 30; 60 minutes then 45 more of ESS work."""
    ledger = MemoryLedger()
    rates = {"emergency": Money(Decimal("250"), "USD"), "standard": Money(Decimal("125"), "USD")}
    await BillingReads(ledger).set_terms("acme", AccountTerms(rates), 30)
    await BillingReads(ledger).top_up("acme", 90)
    billing = biller(ledger)
    ticket = Ticket("voice1@1")
    for event in (
        ticket.opened("emergency", flags=("prepay_required",)),
        ticket.event("ticket.ess_started", 0),
        ticket.work(0, 60, "emergency"),
    ):
        await billing.on_ticket_event(event)
    assert types(ledger) == ["charge.assessed", "prepaid.low"]
    assert (await BillingReads(ledger).prepaid("acme")).balance_minutes == 30  # type: ignore[union-attr]
    await billing.on_ticket_event(ticket.work(60, 45, "emergency"))
    assert types(ledger)[2:] == [
        "charge.voided",
        "charge.assessed",
        "charge.assessed",
        "prepaid.exhausted",
    ]
    exhausted = ledger.published[-1]
    assert exhausted.prepaid is not None and exhausted.prepaid.balance_minutes == 0
    lines = {
        line.charge.rule: line.charge
        for line in (await BillingReads(ledger).statement("acme", "2026-11")).lines
    }
    assert (lines["ess_emergency_rate"].prepaid_minutes, lines["ess_emergency_rate"].amount) == (
        90,
        Decimal("0.00"),
    )
    assert (
        lines["standard_rate_after_ess"].worked_minutes,
        lines["standard_rate_after_ess"].amount,
    ) == (15, Decimal("31.25"))
    await billing.on_ticket_event(ticket.work(200, 30, "emergency"))
    assert types(ledger).count("prepaid.exhausted") == 1


async def test_a_silver_accounts_ninth_tam_hour_exhausts_the_budget() -> None:
    ledger = MemoryLedger()
    billing = biller(ledger)
    ticket = Ticket("voximplant@1")
    await billing.on_ticket_event(ticket.opened("sev3", plan="silver"))
    seen: list[list[str]] = []
    for hour in range(9):
        before = len(ledger.published)
        await billing.on_ticket_event(ticket.work(hour * 60, 60, "tam"))
        seen.append(types(ledger)[before:])
    assert seen == [[]] * 5 + [["tam.budget_warning"]] + [[]] * 2 + [["tam.budget_exhausted"]]
    usage = await BillingReads(ledger).tam("acme", "2026-11")
    assert usage is not None and (usage.used_minutes, usage.budget_hours, usage.left_minutes) == (
        540,
        8,
        0,
    )


async def test_what_billing_cannot_place_is_refused_and_leaves_nothing() -> None:
    ledger = MemoryLedger()
    billing = biller(ledger)
    ticket = Ticket("hosted-voice@1")
    with pytest.raises(UnknownTicket):
        await billing.on_ticket_event(ticket.work(0, 30, "off_hours"))
    with pytest.raises(UnknownPolicy):
        await billing.on_ticket_event(Ticket("nope@9").opened("p1"))
    assert ledger.state.seen == set() and ledger.state.histories == {}
    assert (
        await billing.on_ticket_event(ticket.event("ticket.comment_added", 1, body="x"))
        == "ignored"
    )


async def test_the_statement_totals_each_currency_and_prints_csv() -> None:
    ledger = MemoryLedger()
    billing = biller(ledger)
    for account, policy, priority in (
        ("acme", "voipster@1", "emergency"),
        ("acme", "voipster@1", "emergency"),
    ):
        ticket = Ticket(policy, account)
        await billing.on_ticket_event(ticket.opened(priority))
        await billing.on_ticket_event(
            ticket.event("ticket.determination_recorded", 5, criticality="not_critical")
        )
    found = await BillingReads(ledger).statement("acme", "2026-11")
    assert found.totals == {"USD": Decimal("300.00")} and len(found.lines) == 2
    rows = to_csv(found).splitlines()
    assert rows[0].startswith("charge_id,ticket_id,rule") and rows[-1] == "total,,,,,,,,300.00,USD,"
    assert (await BillingReads(ledger).statement("acme", "2026-10")).lines == ()
