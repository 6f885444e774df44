"""The Ticket page's pure content: the console replays a ticket's projected history to the
same SLA view the SLA service serves for it, whatever order the events arrived in and with
events past a gap held; the timeline's markers; the "why is it due then?" lines."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.console.domain.at_risk import TicketFacts
from services.console.domain.history import HistoryEvent, Mark, TicketRecord
from services.console.domain.ticket_view import markers, replayed, why_due, why_due_lines
from services.sla.domain.processing import apply_event, fire_due
from services.sla.domain.tracked import Incoming, Tracked
from services.sla.domain.view import sla_view
from tests.unit.sla_helpers import policies
from tests.unit.sla_tracked import OPEN, PARTITION, T0, TICKET, incoming

pytestmark = pytest.mark.unit

POLICY = policies()["voximplant"]
FACTS = TicketFacts(TICKET, "TF-7", "acme", "voximplant@1", "sev2")
ORDER_1 = {"target_overrides": {"resolution": 8}}
HISTORY = (
    ("opened", 0, {**OPEN, **ORDER_1, "priority": "sev1"}),
    ("responded", 20, {}),
    ("awaiting_customer", 30, {}),
    ("customer_replied", 90, {}),
    ("severity_changed", 100, {"priority": "sev2"}),
    ("awaiting_customer", 130, {}),
    ("customer_replied", 150, {}),
    ("resolved", 400, {}),
)


def history_event(event: Incoming) -> HistoryEvent:
    return HistoryEvent(
        uuid.UUID(event.event_id),
        TICKET,
        event.account,
        event.policy,
        event.type,
        event.at,
        event.sequence,
        event.recorded_at,
        1,
        dict(event.data),
    )


def events(count: int) -> list[Incoming]:
    return [
        incoming(kind, minutes, sequence, **data)
        for sequence, (kind, minutes, data) in enumerate(HISTORY[:count], start=1)
    ]


def record(found: list[Incoming], marks: tuple[Mark, ...] = ()) -> TicketRecord:
    return TicketRecord(FACTS, tuple(history_event(event) for event in found), marks)


def service_view(arrivals: list[Incoming], now_minutes: float) -> dict[str, object]:
    """What the SLA service serves after those arrivals with its timers fired up to now."""
    tracked: Tracked | None = None
    for event in arrivals:
        tracked = apply_event(tracked, event, TICKET, PARTITION, POLICY).tracked
    assert tracked is not None
    now = T0 + timedelta(minutes=now_minutes)
    tracked = fire_due(tracked, POLICY, now).tracked
    return orjson.loads(orjson.dumps(sla_view(tracked, now)))


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=len(HISTORY)),
    order=st.randoms(use_true_random=False),
    dropped=st.integers(min_value=0, max_value=len(HISTORY)),
    now_minutes=st.sampled_from([25, 95, 200, 399, 2000, 20000]),
)
def test_the_replayed_view_is_the_sla_services_view_whatever_the_arrival_order(
    count: int, order: object, dropped: int, now_minutes: float
) -> None:
    found = events(count)
    if 1 < dropped <= count:  # a gap: one event not (yet) projected
        found = [event for event in found if event.sequence != dropped]
    arrivals = list(found)
    order.shuffle(arrivals)  # type: ignore[attr-defined]
    arrivals.sort(key=lambda event: event.sequence != 1)  # the service needs the opening first
    now = T0 + timedelta(minutes=now_minutes)

    console = replayed(record(list(reversed(arrivals))), POLICY, now)

    assert orjson.loads(orjson.dumps(console.view)) == service_view(arrivals, now_minutes)
    held = [event.sequence for event in console.held]
    assert held == sorted(event.sequence for event in found if 1 < dropped < event.sequence)


def test_without_its_opening_nothing_is_folded_and_every_event_is_held() -> None:
    found = [event for event in events(3) if event.sequence != 1]
    console = replayed(record(found), POLICY, T0 + timedelta(hours=1))
    assert console.state is None and console.view["accepted"] is None
    assert console.view["metrics"] == {} and console.view["waiting_for_sequences"] == [2, 3]


def test_markers_add_severity_changes_sent_warnings_and_the_marks() -> None:
    page = Mark(uuid.uuid4(), TICKET, T0 + timedelta(minutes=61), "page", "Paged level 1")
    ack = Mark(uuid.uuid4(), TICKET, T0 + timedelta(minutes=63), "ack", "Acknowledged by Ann")
    found = record(events(5), (page, ack))
    console = replayed(found, POLICY, T0 + timedelta(minutes=110))

    shown = markers(console, found)

    assert shown == sorted(shown)
    assert (T0 + timedelta(minutes=100), "severity", "Severity changed to sev2") in shown
    assert (page.at, "page", "Paged level 1") in shown and (ack.at, "ack", ack.label) in shown


def test_a_sent_warning_is_a_marker_once_the_clock_no_longer_carries_it() -> None:
    found = record([incoming("opened", 0, 1, **OPEN)])  # sev2 gold: first response in 2 h
    before = replayed(found, POLICY, T0 + timedelta(minutes=80))
    after = replayed(found, POLICY, T0 + timedelta(minutes=110))

    assert markers(before, found) == []
    assert before.view["metrics"]["first_response"]["warn_at"] == "2026-11-17T15:30:00Z"
    assert markers(after, found) == [
        (T0 + timedelta(minutes=90), "warning", "First response warned")
    ]
    assert after.view["metrics"]["first_response"]["warn_at"] is None


def test_why_due_spells_the_rest_of_the_target_after_a_pause() -> None:
    now = T0 + timedelta(minutes=95)
    console = replayed(record(events(4)), POLICY, now)
    assert console.state is not None
    clock = console.state.clocks["resolution"]
    assert clock.phase == "running" and clock.due_at == T0 + timedelta(hours=9)

    line = why_due(clock, ZoneInfo("Europe/Helsinki"), now)

    # 30 min ran before the information request, 7 h 30 min from the reply at 15:30 UTC.
    assert line == (
        "30 min of the 8 h target ran before the pause; the rest: 7 h 30 min around the "
        "clock (24x7) from Tue 17:30 EET → Wed 01:00 EET"
    )


def test_why_due_of_a_paused_clock_says_how_much_is_left() -> None:
    now = T0 + timedelta(minutes=40)
    console = replayed(record(events(3)), POLICY, now)

    lines = why_due_lines(console.state, UTC, now)

    assert list(lines) == ["first_response", "resolution", "customer_response"]
    assert lines["resolution"] == (
        "Not due while paused on the customer's side: 7 h 30 min of 8 h business time "
        "left when it runs again."
    )
    assert lines["first_response"] == (
        "1 h around the clock (24x7) from Tue 14:00 UTC → Tue 15:00 UTC"
    )
