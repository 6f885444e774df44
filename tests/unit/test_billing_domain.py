"""The billing arithmetic on its own: rounding, ESS windows and prepaid draw, TAM thresholds,
the ledger's diff. The per-document rules are golden-tested in test_billing_<provider>.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.billing.domain.charges import bill_minutes, charges
from services.billing.domain.history import Work, fold
from services.billing.domain.ledger import diff, prepaid_crossings
from services.billing.domain.rules import AccountTerms, Basis, ChargeRule, Money
from services.billing.domain.sessions import split
from services.billing.domain.tam import BudgetState, crossed, state
from shared.calendar import month_of
from shared.sla.timeline import TimelineEvent

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
HOURLY = ChargeRule("hourly", Basis.HOURS, "s", price=Money(Decimal("50"), "EUR"))


def _work(offset_min: int, minutes: int, rate: str = "standard") -> Work:
    return Work(T0 + timedelta(minutes=offset_min), minutes, rate, "agent")


def test_hours_round_up_to_the_increment_then_the_minimum() -> None:
    rule = ChargeRule(
        "r", Basis.HOURS, "s", price=Money(Decimal("100"), "USD"), minimum_minutes=120
    )
    assert [bill_minutes(m, rule) for m in (0, 1, 15, 16, 90, 120, 121)] == [
        0,
        120,
        120,
        120,
        120,
        120,
        135,
    ]


@given(st.integers(1, 5000), st.integers(1, 60), st.integers(0, 600))
def test_billed_minutes_cover_the_work_in_whole_increments(
    minutes: int, step: int, floor: int
) -> None:
    rule = ChargeRule(
        "r",
        Basis.HOURS,
        "s",
        price=Money(Decimal("1"), "USD"),
        increment_minutes=step,
        minimum_minutes=floor,
    )
    billed = bill_minutes(minutes, rule)
    assert billed >= minutes and billed >= floor
    assert billed == floor or billed % step == 0
    assert billed - minutes < step or billed == floor
    assert bill_minutes(minutes + 1, rule) >= billed


def _history(*extra: TimelineEvent, priority: str = "p1", flags: tuple[str, ...] = ()):
    opened = TimelineEvent(
        "ticket.opened",
        T0,
        {"channel": "phone", "priority": priority, "flags": list(flags)},
        sequence=1,
    )
    return fold([opened, *extra])


def _logged(offset_min: int, minutes: int, rate: str = "standard", seq: int = 2) -> TimelineEvent:
    at = T0 + timedelta(minutes=offset_min)
    return TimelineEvent(
        "ticket.work_logged",
        at + timedelta(minutes=minutes),
        {"by": "a", "started_at": at.isoformat(), "minutes": minutes, "rate": rate},
        sequence=seq,
    )


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 300)), min_size=1, max_size=8))
def test_more_logged_work_never_costs_less(logs: list[tuple[int, int]]) -> None:
    events = [_logged(o, m, seq=i + 2) for i, (o, m) in enumerate(logs)]
    amounts = [
        charges(_history(*events[:n]), [HOURLY], AccountTerms()) for n in range(1, len(events) + 1)
    ]
    totals = [sum((c.amount or Decimal(0)) for c in found) for found in amounts]
    assert totals == sorted(totals)


@given(
    st.lists(st.tuples(st.integers(0, 600), st.integers(1, 240)), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 600), st.integers(1, 600)), max_size=3),
    st.none() | st.integers(0, 900),
)
def test_split_accounts_for_every_minute(
    logs: list[tuple[int, int]], spans: list[tuple[int, int]], prepaid: int | None
) -> None:
    work = [_work(o, m) for o, m in logs]
    sessions: list[tuple[datetime, datetime | None]] = sorted(
        (T0 + timedelta(minutes=s), T0 + timedelta(minutes=s + n)) for s, n in spans
    )
    found = split(work, sessions, prepaid)
    assert found.inside + found.outside == sum(m for _, m in logs)
    assert 0 <= found.prepaid <= found.inside
    if prepaid is None:
        assert found.prepaid == 0
    else:
        assert found.prepaid <= prepaid
    full = split(work, sessions, None).inside
    if prepaid is not None and prepaid < full:
        assert found.inside == prepaid and found.prepaid_ran_out_at is not None
    else:
        assert found.inside == full and found.prepaid_ran_out_at is None


def test_prepaid_time_running_out_ends_the_session_mid_work() -> None:
    """A 90-minute ESS session with 60 prepaid minutes: 60 inside (prepaid), 30 after it."""
    session = [(T0, None)]
    found = split([_work(0, 90)], session, 60)
    assert (found.inside, found.outside, found.prepaid) == (60, 30, 60)
    assert found.prepaid_ran_out_at == T0 + timedelta(minutes=60)


def test_the_ledger_voids_what_changed_and_assesses_what_is_new() -> None:
    a = charges(_history(_logged(0, 60)), [HOURLY], AccountTerms())
    b = charges(_history(_logged(0, 60), _logged(60, 60, seq=3)), [HOURLY], AccountTerms())
    change = diff(a, b)
    assert [c.amount for c in change.voided] == [Decimal("50.00")]
    assert [c.amount for c in change.assessed] == [Decimal("100.00")]
    assert diff(b, b).assessed == [] and diff(b, b).voided == []
    assert [c.key for c in diff(b, []).voided] == ["hourly"]


@given(st.integers(0, 6000), st.integers(0, 6000), st.integers(0, 6000), st.integers(1, 100))
def test_tam_thresholds_are_crossed_once_each(a: int, b: int, c: int, hours: int) -> None:
    lo, mid, hi = sorted((a, b, c))
    assert crossed(lo, mid, hours) + crossed(mid, hi, hours) == crossed(lo, hi, hours)


def test_a_silver_budget_is_exhausted_by_its_ninth_hour() -> None:
    """8 hours: warned at 6, within the limit at 8; the 9th hour is past it."""
    assert state(5 * 60 + 59, 8) is BudgetState.WITHIN
    assert state(6 * 60, 8) is BudgetState.WARNING
    assert state(8 * 60, 8) is BudgetState.WARNING
    assert state(8 * 60 + 1, 8) is BudgetState.EXHAUSTED
    assert crossed(0, 9 * 60, 8) == [BudgetState.WARNING, BudgetState.EXHAUSTED]


def test_the_tam_month_is_the_policy_timezones() -> None:
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert month_of(late, "UTC") == "2026-11"
    assert month_of(late, "Europe/Moscow") == "2026-12"


def test_prepaid_announces_low_then_exhausted() -> None:
    assert prepaid_crossings(120, 90) == []
    assert prepaid_crossings(90, 60) == ["prepaid.low"]
    assert prepaid_crossings(60, 30) == []
    assert prepaid_crossings(30, 0) == ["prepaid.exhausted"]
    assert prepaid_crossings(200, -10) == ["prepaid.exhausted"]
    assert prepaid_crossings(0, -30) == []
