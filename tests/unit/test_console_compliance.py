"""The console's monthly compliance figures (issue 19): golden numbers worked out by hand for a
few Voximplant and VoIPster tickets, the CSV and JSON exports, and properties of any month."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.console.domain.compliance import (
    BREACH_CSV_COLUMNS,
    CSV_COLUMNS,
    MetricOutcome,
    breaches_to_csv,
    compliance,
    evaluation_instant,
    met_percent,
    month_bounds,
    outcomes_of,
    percentile,
    replayed_outcomes,
    to_csv,
    to_json,
)
from shared.sla import TimelineEvent, replay
from tests.unit.sla_helpers import policies

NOVEMBER_END = datetime(2026, 12, 1, tzinfo=UTC)
Timeline = list[tuple[str, str, dict[str, Any]]]


def _events(timeline: Timeline) -> list[TimelineEvent]:
    return [
        TimelineEvent(f"ticket.{kind}", datetime.fromisoformat(at), data, sequence=index)
        for index, (kind, at, data) in enumerate(timeline, start=1)
    ]


def vox(opened: str, priority: str = "sev1", *then: tuple[str, str], **extra: Any) -> Timeline:
    """A Voximplant gold ticket by email (24x7: sev1 answer within 1 h, sev2 within 2 h)."""
    data = {"channel": "email", "priority": priority, "plan": "gold", **extra}
    return [("opened", opened, data), *((kind, at, {}) for kind, at in then)]


def vip(opened: str, priority: str, *then: tuple[str, str], **extra: Any) -> Timeline:
    """A VoIPster ticket from the web portal (emergency: 15 min 24x7; high: 1 h NOC hours)."""
    data = {"channel": "web", "priority": priority, **extra}
    return [("opened", opened, data), *((kind, at, {}) for kind, at in then)]


# Hand-derived (every instant UTC):
TICKETS: dict[str, tuple[str, Timeline]] = {
    # voximplant sev1: due 1 h after opening.
    "A": (  # answered after 10 min; resolution (8 h from the order) met at 15:00, due 18:00
        "voximplant",
        vox(
            "2026-11-10T10:00Z",
            "sev1",
            ("responded", "2026-11-10T10:10Z"),
            ("resolved", "2026-11-10T15:00Z"),
            target_overrides={"resolution": 8},
        ),
    ),
    "B": ("voximplant", vox("2026-11-10T12:00Z", "sev1", ("responded", "2026-11-10T12:50Z"))),
    "C": ("voximplant", vox("2026-11-10T14:00Z", "sev1")),  # never: breached at 15:00
    "D": ("voximplant", vox("2026-11-10T16:00Z", "sev1", ("responded", "2026-11-10T18:00Z"))),
    # opened in October, due Nov 1 00:30: November's; answered after 45 min
    "F": ("voximplant", vox("2026-10-31T23:30Z", "sev1", ("responded", "2026-11-01T00:15Z"))),
    # sev2 opened Nov 30 23:00, due Dec 1 01:00: December's, not November's
    "E": ("voximplant", vox("2026-11-30T23:00Z", "sev2")),
    # voipster emergency: due 15 min after opening.
    "G": ("voipster", vip("2026-11-12T03:00Z", "emergency", ("responded", "2026-11-12T03:05Z"))),
    "H": ("voipster", vip("2026-11-12T04:00Z", "emergency", ("responded", "2026-11-12T04:20Z"))),
    # asking the customer is a first response (after 10 min)
    "I": (
        "voipster",
        vip("2026-11-12T05:00Z", "emergency", ("awaiting_customer", "2026-11-12T05:10Z")),
    ),
    # voipster high on Wed 10:00 ET (NOC open): due 11:00 ET; answered after 30 min
    "J": ("voipster", vip("2026-11-11T15:00Z", "high", ("responded", "2026-11-11T15:30Z"))),
    # spam by email: accepted without a first-response target; counts nowhere
    "K": ("voipster", vip("2026-11-12T15:00Z", "normal", channel="email", spam=True)),
    # an emergency by email is refused: no clocks
    "L": ("voipster", vip("2026-11-12T15:00Z", "emergency", channel="email")),
}


def _outcomes(as_of: datetime) -> list[MetricOutcome]:
    found: list[MetricOutcome] = []
    for ticket, (policy_id, timeline) in TICKETS.items():
        policy = policies()[policy_id]
        found += replayed_outcomes(ticket, _events(timeline), policy, as_of)
    return found


def _row(**values: Any) -> dict[str, Any]:
    base = {"first_response_p50_seconds": None, "first_response_p90_seconds": None}
    return {**base, **values}


NOVEMBER_ROWS = [
    _row(
        policy="voipster", priority="emergency", metric="first_response", tickets=3, met=2,
        breached=1, running=0, met_percent="66.7",  # 2/3 = 66.66.. -> 66.7
        first_response_p50_seconds="600",  # 300, 600, 1200: rank ceil(1.5) = 2
        first_response_p90_seconds="1200",  # rank ceil(2.7) = 3
    ),
    _row(
        policy="voipster", priority="high", metric="first_response", tickets=1, met=1,
        breached=0, running=0, met_percent="100.0",
        first_response_p50_seconds="1800", first_response_p90_seconds="1800",
    ),
    _row(
        policy="voximplant", priority="sev1", metric="first_response", tickets=5, met=3,
        breached=2, running=0, met_percent="60.0",  # A B F met, C D breached
        first_response_p50_seconds="2700",  # 600, 2700, 3000, 7200 (C never): rank 2
        first_response_p90_seconds="7200",  # rank ceil(3.6) = 4: D answered late
    ),
    _row(
        policy="voximplant", priority="sev1", metric="resolution", tickets=1, met=1,
        breached=0, running=0, met_percent="100.0",
    ),
]  # fmt: skip
NOVEMBER_BREACHES = [
    {
        "ticket_id": "C", "policy": "voximplant", "priority": "sev1", "metric": "first_response",
        "due_at": "2026-11-10T15:00:00Z", "breached_at": "2026-11-10T15:00:00Z", "met_at": None,
    },
    {
        "ticket_id": "D", "policy": "voximplant", "priority": "sev1", "metric": "first_response",
        "due_at": "2026-11-10T17:00:00Z", "breached_at": "2026-11-10T17:00:00Z",
        "met_at": "2026-11-10T18:00:00Z",
    },
    {
        "ticket_id": "H", "policy": "voipster", "priority": "emergency",
        "metric": "first_response", "due_at": "2026-11-12T04:15:00Z",
        "breached_at": "2026-11-12T04:15:00Z", "met_at": "2026-11-12T04:20:00Z",
    },
]  # fmt: skip


def test_november_golden_figures() -> None:
    as_of = evaluation_instant("2026-11", datetime(2026, 12, 3, 13, 0, tzinfo=UTC))
    assert as_of == NOVEMBER_END  # the month is over: read at its end
    body = json.loads(to_json(compliance(_outcomes(as_of), "2026-11")))
    voipster = policies()["voipster"]
    spam, refused = (replay(_events(TICKETS[t][1]), voipster, as_of).state for t in "KL")
    assert spam.accepted and spam.clocks["first_response"].target is None
    assert not refused.accepted
    assert body == {"month": "2026-11", "rows": NOVEMBER_ROWS, "breaches": NOVEMBER_BREACHES}


def test_a_month_not_over_counts_its_running_clocks_apart() -> None:
    now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    as_of = evaluation_instant("2026-12", now)
    assert as_of == now
    report = compliance(_outcomes(as_of), "2026-12")
    [row] = report.rows
    assert (row.policy, row.priority, row.metric) == ("voximplant", "sev2", "first_response")
    assert (row.tickets, row.met, row.breached, row.running) == (1, 0, 0, 1)
    assert row.met_percent is None and row.first_response_p50_seconds is None
    assert report.breaches == ()

    # At December's end E has breached at its due time, Dec 1 01:00.
    december_end = evaluation_instant("2026-12", datetime.max.replace(tzinfo=UTC))
    later = compliance(_outcomes(december_end), "2026-12")
    assert [(b.ticket_id, b.breached_at) for b in later.breaches] == [
        ("E", datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    ]
    assert compliance(_outcomes(NOVEMBER_END), "2026-10").rows == ()  # F is November's


def test_csv_has_one_row_per_policy_priority_and_metric() -> None:
    report = compliance(_outcomes(NOVEMBER_END), "2026-11")
    lines = to_csv(report).splitlines()
    assert tuple(lines[0].split(",")) == CSV_COLUMNS == (
        "month", "policy", "priority", "metric", "tickets", "met", "breached", "running",
        "met_percent", "first_response_p50_seconds", "first_response_p90_seconds",
    )  # fmt: skip
    assert lines[1:] == [
        "2026-11,voipster,emergency,first_response,3,2,1,0,66.7,600,1200",
        "2026-11,voipster,high,first_response,1,1,0,0,100.0,1800,1800",
        "2026-11,voximplant,sev1,first_response,5,3,2,0,60.0,2700,7200",
        "2026-11,voximplant,sev1,resolution,1,1,0,0,100.0,,",
    ]
    assert to_csv(report).endswith("\r\n")
    listed = list(csv.reader(io.StringIO(breaches_to_csv(report))))
    assert tuple(listed[0]) == BREACH_CSV_COLUMNS
    assert [row[1] for row in listed[1:]] == ["C", "D", "H"]
    assert listed[1][5:] == ["2026-11-10T15:00:00Z", "2026-11-10T15:00:00Z", ""]


def test_a_paused_clock_counts_nowhere_until_it_runs_again() -> None:
    policy = policies()["voximplant"]
    timeline = vox(
        "2026-11-10T10:00Z",
        "sev1",
        ("awaiting_customer", "2026-11-10T10:30Z"),
        target_overrides={"resolution": 8},
    )
    state = replay(_events(timeline), policy, NOVEMBER_END).state
    assert state.clocks["resolution"].phase == "paused"
    found = outcomes_of(state, policy, "P")
    # First response met by the information request (10:30, due 11:00); the customer's own
    # clock (as long as the response time, 1 h) ran out at 11:30; resolution is paused.
    assert [(o.metric, o.outcome, o.deadline.isoformat()) for o in found] == [
        ("first_response", "met", "2026-11-10T11:00:00+00:00"),
        ("customer_response", "breached", "2026-11-10T11:30:00+00:00"),
    ]


def test_months_rounding_and_percentiles() -> None:
    assert month_bounds("2026-12") == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    for wrong in ("2026-13", "2026-1", "26-11", "2026-11-01"):
        try:
            month_bounds(wrong)
        except ValueError:
            continue
        raise AssertionError(wrong)
    assert met_percent(1, 15) == Decimal("6.3")  # 6.25: half up, not to even
    assert met_percent(1, 2) == Decimal("33.3")
    assert met_percent(0, 3) == Decimal("0.0") and met_percent(4, 0) == Decimal("100.0")
    assert met_percent(0, 0) is None
    waits = [timedelta(seconds=s) for s in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    assert (percentile(waits, 50), percentile(waits, 90)) == (Decimal(5), Decimal(9))
    assert percentile([timedelta(milliseconds=1500)], 90) == Decimal("1.5")
    assert percentile([], 50) is None


# --- properties ---------------------------------------------------------------------------------

MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)


@st.composite
def vox_tickets(draw: st.DrawFn) -> tuple[str, list[TimelineEvent]]:
    opened = MONTH_START + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 33 * 24 * 60)))
    priority = draw(st.sampled_from(["sev1", "sev2", "sev3", "sev4"]))
    plan = draw(st.sampled_from(["silver", "gold", "platinum"]))
    events = [
        TimelineEvent(
            "ticket.opened",
            opened,
            {"channel": "email", "priority": priority, "plan": plan},
            sequence=1,
        )
    ]
    answer = draw(st.one_of(st.none(), st.integers(0, 30 * 60)))
    if answer is not None:
        events.append(
            TimelineEvent("ticket.responded", opened + timedelta(minutes=answer), {}, sequence=2)
        )
    return priority, events


@settings(max_examples=60, deadline=None)
@given(
    tickets=st.lists(vox_tickets(), max_size=25),
    now_minutes=st.integers(0, 40 * 24 * 60),
)
def test_every_clock_with_a_target_is_met_breached_or_running(
    tickets: list[tuple[str, list[TimelineEvent]]], now_minutes: int
) -> None:
    policy = policies()["voximplant"]
    as_of = evaluation_instant("2026-11", MONTH_START + timedelta(minutes=now_minutes))
    outcomes: list[MetricOutcome] = []
    for index, (_, events) in enumerate(tickets):
        outcomes += replayed_outcomes(f"t{index:03}", events, policy, as_of)
    report = compliance(outcomes, "2026-11")
    start, end = month_bounds("2026-11")
    in_month = [o for o in outcomes if start <= o.deadline < end]
    assert sum(row.tickets for row in report.rows) == len(in_month)
    for row in report.rows:
        assert row.met + row.breached + row.running == row.tickets > 0
        if row.met_percent is not None:
            assert Decimal(0) <= row.met_percent <= Decimal(100)
        else:
            assert row.met + row.breached == 0
        p50, p90 = row.first_response_p50_seconds, row.first_response_p90_seconds
        assert (p50 is None) == (p90 is None)
        if p50 is not None and p90 is not None:
            assert Decimal(0) <= p50 <= p90
    assert len(report.breaches) == sum(row.breached for row in report.rows)
    assert all(b.breached_at < as_of for b in report.breaches)
    assert len(to_csv(report).splitlines()) == len(report.rows) + 1
