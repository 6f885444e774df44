"""Each document's charge rules, golden-tested: every case quotes the sentence it implements
(as the policy's rule quotes it from the document, ../shared/provider-docs/),
and its expected amount is derived by hand from that sentence and the rounding decision
(services/billing/domain/charges.py: minutes rounded up to 15, then the minimum)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.billing.domain.charges import charges
from services.billing.domain.history import fold
from services.billing.domain.policy_rules import rules_of, tam_of
from services.billing.domain.rules import AccountTerms, Money
from services.billing.domain.tam import BudgetState, crossed
from shared.events.types import TICKET_EVENT_TYPES, TicketEventType
from shared.policy import policies_by_ref
from shared.sla.timeline import TimelineEvent

pytestmark = pytest.mark.unit

POLICIES = policies_by_ref()
T0 = datetime(2026, 11, 7, 3, 0, tzinfo=UTC)  # a Saturday night in Los Angeles: off hours
VOICE1_RATES = AccountTerms(
    rates={"emergency": Money(Decimal("250"), "USD"), "standard": Money(Decimal("125"), "USD")}
)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def work(start: int, minutes: int, rate: str = "standard") -> tuple[str, int, dict[str, Any]]:
    data = {"by": "eng", "started_at": at(start).isoformat(), "minutes": minutes, "rate": rate}
    return ("ticket.work_logged", start + minutes, data)


def determined(minute: int, **found: str) -> tuple[str, int, dict[str, Any]]:
    return ("ticket.determination_recorded", minute, found)


def event(kind: str, minute: int, **data: Any) -> tuple[str, int, dict[str, Any]]:
    return (kind, minute, data)


@dataclass(frozen=True)
class Case:
    policy: str
    quote: str
    priority: str
    events: list[tuple[str, int, dict[str, Any]]]
    expected: list[tuple[str, str | None]]
    """(rule, amount) of every charge, in rule order; amount None: unpriced."""
    plan: str | None = None
    entitled: bool = True
    flags: tuple[str, ...] = ()
    terms: AccountTerms = field(default_factory=AccountTerms)


def run(case: Case) -> list[tuple[str, str | None]]:
    opened = {
        "channel": "phone",
        "priority": case.priority,
        "plan": case.plan,
        "entitled": case.entitled,
        "flags": list(case.flags),
    }
    timeline = [TimelineEvent("ticket.opened", T0, opened, sequence=1)]
    for number, (kind, minute, data) in enumerate(case.events, start=2):
        TICKET_EVENT_TYPES[kind].model.model_validate(data)  # every event is a valid one
        timeline.append(TimelineEvent(kind, at(minute), data, sequence=number))
    policy = POLICIES[f"{case.policy}@1"]
    found = charges(fold(timeline), rules_of(policy), case.terms)
    return [(c.rule, None if c.amount is None else str(c.amount)) for c in found]


OFF_HOURS = ("off_hours_p1_billable_review",)
HV_FEE = (
    "Customer will pay for’s time spent on the off hour, non-planned emergency support at "
    "the rate of $100 per hour, with a two (2) hour minimum."
)
HV_AT_FAULT = (
    "Customer will not be responsible for any incident fee or hourly support fees if "
    "an outage is determined to be the fault of"
)
HV_P4 = "Such requests may incur fees, that would need to be reviewed and approved by Customer."
VOIPSTER = (
    "emergency tickets opened for issues not critically impacting availability and/or "
    "reliability of services ... will be assessed a minimum $150.00 charge."
)
KOLMISOFT = "Our hourly rate is 50 EUR/h."
KOLMISOFT_BUG = "If the problem is caused by a bug - it is fixed for free."
KOLMISOFT_PLAN = (
    "Users without a support plan can create a ticket and use a paid support by hourly rate."
)
VOICE1_UNTIL = (
    "Support will continue at emergency rates until one of the following conditions have "
    "been reached."
)
VOICE1_WORKAROUND = (
    "If a workaround is deployed ESS℠ will stop and work will be resumed during "
    "normal scheduled service hours at the standard rates."
)
VOICE1_PREPAID = "Prepaid/or allocated support time has expired."
VOICE1_SIP = (
    "if VOICE1 is providing SIP Trunking services, and you are experiencing a service "
    "outage due to SIP Trunks being unavailable you will not be charged for Emergency "
    "Support Service."
)
VOICE1_AGREEMENT = (
    "Unless you have a current and valid service/maintenance agreement which "
    "specifically includes emergency support services."
)

CASES = {
    # hosted-voice: 90 logged minutes < 2 h minimum -> 120 min x $100/h
    "hv 90 min, customer's fault: the 2 h minimum": Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [work(0, 90, "off_hours"), determined(120, fault="customer")],
        [("off_hours_p1_not_at_fault", "200.00")],
        flags=OFF_HOURS,
    ),
    "hv 150 min: past the minimum, whole quarter hours": Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [work(0, 150, "off_hours"), determined(200, fault="customer")],
        [("off_hours_p1_not_at_fault", "250.00")],
        flags=OFF_HOURS,
    ),
    "hv 125 min: rounded up to 135": Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [work(0, 125, "off_hours"), determined(200, fault="customer")],
        [("off_hours_p1_not_at_fault", "225.00")],
        flags=OFF_HOURS,
    ),
    "hv standard-rate minutes are not off-hours time": Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [work(0, 130, "off_hours"), work(600, 60, "standard"), determined(700, fault="customer")],
        [("off_hours_p1_not_at_fault", "225.00")],
        flags=OFF_HOURS,
    ),
    "hv the provider's fault: no fee": Case(
        "hosted-voice",
        HV_AT_FAULT,
        "p1",
        [work(0, 90, "off_hours"), determined(120, fault="provider")],
        [],
        flags=OFF_HOURS,
    ),
    "hv not reviewed yet: nothing charged": Case(
        "hosted-voice",
        "the event will be reviewed by and Customer to determine the cause of the outage",
        "p1",
        [work(0, 90, "off_hours")],
        [],
        flags=OFF_HOURS,
    ),
    "hv a P1 in standard hours is not off-hours support": Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [work(0, 90, "off_hours"), determined(120, fault="customer")],
        [],
    ),
    "hv P4 fee approved": Case(
        "hosted-voice",
        HV_P4,
        "p4",
        [
            event(
                "ticket.fee_quoted",
                10,
                quote_id="q1",
                amount="300.00",
                currency="USD",
                description="custom report",
            ),
            event("ticket.quote_answered", 20, quote_id="q1", approved=True),
        ],
        [("p4_request_fees", "300.00")],
    ),
    "hv P4 fee declined": Case(
        "hosted-voice",
        HV_P4,
        "p4",
        [
            event(
                "ticket.fee_quoted",
                10,
                quote_id="q1",
                amount="300.00",
                currency="USD",
                description="custom report",
            ),
            event("ticket.quote_answered", 20, quote_id="q1", approved=False),
        ],
        [],
    ),
    "hv P4 fee not answered yet": Case(
        "hosted-voice",
        HV_P4,
        "p4",
        [
            event(
                "ticket.fee_quoted",
                10,
                quote_id="q1",
                amount="300.00",
                currency="USD",
                description="custom report",
            )
        ],
        [],
    ),
    # voipster: a flat minimum per misused emergency
    "voipster emergency, not critical": Case(
        "voipster",
        VOIPSTER,
        "emergency",
        [determined(30, criticality="not_critical")],
        [("emergency_misuse", "150.00")],
    ),
    "voipster emergency, critical": Case(
        "voipster", VOIPSTER, "emergency", [determined(30, criticality="critical")], []
    ),
    "voipster emergency, not determined": Case("voipster", VOIPSTER, "emergency", [], []),
    "voipster high priority, not critical: no misuse of an emergency": Case(
        "voipster", VOIPSTER, "high", [determined(30, criticality="not_critical")], []
    ),
    # kolmisoft: 50 EUR/h without a plan, free when a bug
    "kolmisoft no plan, 50 min -> 60": Case(
        "kolmisoft-mor", KOLMISOFT, "medium", [work(0, 50)], [("paid_support", "50.00")]
    ),
    "kolmisoft no plan, 100 min -> 105": Case(
        "kolmisoft-mor", KOLMISOFT, "medium", [work(0, 100)], [("paid_support", "87.50")]
    ),
    "kolmisoft free plan is paid support": Case(
        "kolmisoft-mor",
        KOLMISOFT_PLAN,
        "low",
        [work(0, 30)],
        [("paid_support", "25.00")],
        plan="free",
    ),
    "kolmisoft gold plan: included": Case(
        "kolmisoft-mor", KOLMISOFT_PLAN, "high", [work(0, 30)], [], plan="gold"
    ),
    "kolmisoft an ended gold plan is paid support": Case(
        "kolmisoft-mor",
        KOLMISOFT_PLAN,
        "high",
        [work(0, 30)],
        [("paid_support", "25.00")],
        plan="gold",
        entitled=False,
    ),
    "kolmisoft a bug: free": Case(
        "kolmisoft-mor", KOLMISOFT_BUG, "medium", [work(0, 100), determined(120, cause="bug")], []
    ),
    "kolmisoft another cause: paid": Case(
        "kolmisoft-mor",
        KOLMISOFT_BUG,
        "medium",
        [work(0, 100), determined(120, cause="other")],
        [("paid_support", "87.50")],
    ),
    # voice1: account rate card emergency $250/h, standard $125/h
    "voice1 ESS at emergency rates": Case(
        "voice1",
        VOICE1_UNTIL,
        "emergency",
        [event("ticket.ess_started", 0), work(0, 60, "emergency")],
        [("ess_emergency_rate", "250.00")],
        flags=("prepay_required",),
        terms=VOICE1_RATES,
    ),
    "voice1 a work-around stops the emergency rate": Case(
        "voice1",
        VOICE1_WORKAROUND,
        "emergency",
        [
            event("ticket.ess_started", 0),
            work(0, 30, "emergency"),
            event("ticket.workaround_provided", 30),
            work(24 * 60, 60, "standard"),
        ],
        [("ess_emergency_rate", "125.00"), ("standard_rate_after_ess", "125.00")],
        flags=("prepay_required",),
        terms=VOICE1_RATES,
    ),
    "voice1 a work log across the work-around splits at it": Case(
        "voice1",
        VOICE1_WORKAROUND,
        "emergency",
        [
            event("ticket.ess_started", 0),
            event("ticket.workaround_provided", 45),
            work(0, 90, "emergency"),
        ],
        [("ess_emergency_rate", "187.50"), ("standard_rate_after_ess", "93.75")],
        flags=("prepay_required",),
        terms=VOICE1_RATES,
    ),
    "voice1 the customer stops ESS": Case(
        "voice1",
        "You determine you want to stop emergency support services.",
        "emergency",
        [
            event("ticket.ess_started", 0),
            event("ticket.ess_stopped", 15, reason="customer_stopped"),
            work(0, 60, "emergency"),
        ],
        [("ess_emergency_rate", "62.50"), ("standard_rate_after_ess", "93.75")],
        flags=("prepay_required",),
        terms=VOICE1_RATES,
    ),
    "voice1 prepaid time runs out mid-session": Case(
        "voice1",
        VOICE1_PREPAID,
        "emergency",
        [event("ticket.ess_started", 0), work(0, 90, "emergency")],
        [("ess_emergency_rate", "0.00"), ("standard_rate_after_ess", "62.50")],
        flags=("prepay_required",),
        terms=AccountTerms(rates=VOICE1_RATES.rates, prepaid_minutes=60),
    ),
    "voice1 a SIP-trunk outage is not charged": Case(
        "voice1",
        VOICE1_SIP,
        "emergency",
        [
            event("ticket.ess_started", 0),
            work(0, 60, "emergency"),
            determined(10, cause="sip_trunk_outage"),
        ],
        [],
        flags=("prepay_required",),
        terms=VOICE1_RATES,
    ),
    "voice1 an agreement covers ESS": Case(
        "voice1",
        VOICE1_AGREEMENT,
        "emergency",
        [event("ticket.ess_started", 0), work(0, 60, "emergency")],
        [],
        terms=VOICE1_RATES,
    ),
    "voice1 no rate on the rate card: listed unpriced": Case(
        "voice1",
        "Emergency Rate charges are posted here",
        "emergency",
        [event("ticket.ess_started", 0), work(0, 60, "emergency")],
        [("ess_emergency_rate", None)],
        flags=("prepay_required",),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_charges_follow_the_document(case: Case) -> None:
    assert case.quote.split(" ... ")[0].strip(". ") in _policy_text(case.policy)
    assert run(case) == case.expected


def _policy_text(policy_id: str) -> str:
    """The policy file, whose rules carry the document's sentences (`source`)."""
    path = Path(__file__).resolve().parents[2] / "policies" / f"{policy_id}.yaml"
    return " ".join(path.read_text(encoding="utf-8").split())


def test_a_changed_fault_determination_removes_the_charge() -> None:
    """The review can conclude again: "if an outage is determined to be the fault of" the
    provider, the customer owes nothing, whatever an earlier determination said."""
    before = Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [work(0, 90, "off_hours"), determined(120, fault="customer")],
        [],
        flags=OFF_HOURS,
    )
    after = Case(
        "hosted-voice",
        HV_FEE,
        "p1",
        [*before.events, determined(180, fault="provider")],
        [],
        flags=OFF_HOURS,
    )
    assert run(before) == [("off_hours_p1_not_at_fault", "200.00")] and run(after) == []


def test_voximplant_tam_hours_by_plan() -> None:
    """ "Number of TAM working hours per month 8 40 80"; the 9th silver hour is past it."""
    budget = tam_of(POLICIES["voximplant@1"])
    assert budget is not None
    assert [budget.hours(plan) for plan in ("silver", "gold", "platinum", None)] == [
        8,
        40,
        80,
        None,
    ]
    assert crossed(7 * 60, 8 * 60, 8) == []
    assert crossed(8 * 60, 9 * 60, 8) == [BudgetState.EXHAUSTED]
    assert crossed(5 * 60, 6 * 60, 8) == [BudgetState.WARNING]


def test_every_new_event_type_is_a_ticket_event() -> None:
    for kind in (
        "work_logged",
        "determination_recorded",
        "ess_started",
        "ess_stopped",
        "fee_quoted",
        "quote_answered",
    ):
        assert TicketEventType(f"ticket.{kind}").value in TICKET_EVENT_TYPES
