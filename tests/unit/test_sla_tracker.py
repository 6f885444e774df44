"""The SLA tracker's orchestration with in-memory ports: order of effects, DLQ, the event store's
horizon, repairs from the store, poison isolation, provisional breaches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from services.sla.adapters.messages import RawMessage
from services.sla.domain import state_codec
from services.sla.domain.records import OutRecord
from services.sla.service_layer.tracker import SlaTracker
from shared.topics import TICKET_EVENTS
from tests.unit.sla_fakes import (
    NOW,
    PARTITION,
    TICKET,
    MemoryEventStore,
    MemoryPublisher,
    MemoryStateStore,
    ticket_message,
    wire,
)
from tests.unit.sla_fakes import sla_types as types

STATE_TOPIC = "state"
clock = [NOW]


def tracker(
    max_delay_s: float = 7200.0,
) -> tuple[SlaTracker, MemoryStateStore, MemoryPublisher, MemoryEventStore]:
    clock[0] = NOW
    wired = wire(SlaTracker, clock, STATE_TOPIC, max_delay_s)
    return wired.worker, wired.store, wired.publisher, wired.truth


def opened(offset: int = 0, recorded_at: datetime | None = None) -> RawMessage:
    """sev1 gold: first response due 30 minutes before NOW."""
    at = NOW - timedelta(minutes=90)
    return ticket_message(
        "ticket.opened",
        1,
        at,
        offset,
        recorded_at=recorded_at,
        channel="web",
        priority="sev1",
        plan="gold",
    )


def responded(at: datetime, recorded_at: datetime, offset: int = 1) -> RawMessage:
    return ticket_message("ticket.responded", 2, at, offset, recorded_at=recorded_at)


def breaches(publisher: MemoryPublisher) -> list[dict[str, Any]]:
    return [e for e in publisher.sla_events() if e["type"] == "sla.breached"]


async def test_effects_are_published_before_the_state_and_the_changelog_goes_to_its_partition() -> (
    None
):
    made, store, publisher, _ = tracker()
    await made.handle_batch([opened()])
    outputs, changelog = publisher.calls
    assert publisher.stored_at_call[0] == 0  # SLA events acked before any state is written
    assert "sla.ticket_accepted" in types(outputs)
    assert [(r.topic, r.partition, r.key) for r in changelog] == [
        (STATE_TOPIC, PARTITION, TICKET.encode())
    ]
    assert store.data[TICKET.encode()] == changelog[0].value
    assert len(made.timers) == 1

    await made.handle_batch([opened()])  # redelivered: nothing new
    assert publisher.calls[-2:] == [[], []]


async def test_bad_records_go_to_the_dead_letter_topic_with_where_they_came_from() -> None:
    made, _, publisher, _ = tracker()
    bad = RawMessage(TICKET_EVENTS.name, PARTITION, 17, TICKET.encode(), b"{", [])
    await made.handle_batch([bad, opened(18)])
    outputs = publisher.calls[0]
    dead = [r for r in outputs if r.topic == TICKET_EVENTS.dlq]
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["dlq_source_offset"] == b"17" and headers["dlq_reason"] == b"undecodable"
    assert headers["dlq_service"] == b"sla"
    assert "sla.ticket_accepted" in types(outputs)  # the partition moved on


async def test_a_breach_waits_for_the_store_horizon_then_fires_stamped_with_the_deadline() -> None:
    made, _, publisher, truth = tracker()
    first = opened(0)
    truth.add(first)
    await made.handle_batch([first])
    publisher.calls.clear()
    # A writer transaction that began before the deadline is still open: the breach waits.
    truth.horizon_at = (NOW - timedelta(minutes=31)).timestamp()
    await made.fire_due_timers()  # the 75 % warning (NOW - 45 min) is behind the horizon
    assert any(e["type"] == "sla.warning" for e in publisher.sla_events())
    assert await made.fire_due_timers() >= 1
    assert not breaches(publisher)
    # The horizon passes the deadline: at the recheck the breach fires, stamped with the
    # deadline.
    clock[0] = NOW + timedelta(seconds=0.1)
    truth.horizon_at = clock[0].timestamp()
    assert await made.fire_due_timers() == 0
    breach = breaches(publisher)[0]
    assert breach["at"] == "2026-11-17T14:30:00Z"
    assert breach["metric"] == "first_response"
    assert "provisional" not in breach["data"]


async def test_a_response_in_the_store_but_not_yet_consumed_prevents_the_breach() -> None:
    # The deadline is 30 minutes past, far beyond the bound: the bound counts from the wait.
    made, _, publisher, truth = tracker(max_delay_s=60)
    first = opened(0)
    truth.add(first)
    await made.handle_batch([first])
    # The response is committed (recorded before the deadline) but still in the topic.
    truth.add(responded(NOW - timedelta(minutes=80), NOW - timedelta(minutes=80)))
    publisher.calls.clear()
    await made.fire_due_timers()
    await made.fire_due_timers()
    assert not breaches(publisher)
    assert any(e["type"] == "sla.met" for e in publisher.sla_events())
    # The response arriving from the topic afterwards is a duplicate.
    publisher.calls.clear()
    await made.handle_batch([responded(NOW - timedelta(minutes=80), NOW, offset=1)])
    assert not publisher.sla_events()


async def test_a_ticket_logged_late_waits_for_the_settle_window_before_its_breach() -> None:
    made, _, publisher, truth = tracker()
    # Opened 90 min ago by its event time, but recorded only now: overdue from the start.
    first = opened(0, recorded_at=NOW - timedelta(seconds=1))
    truth.add(first)
    await made.handle_batch([first])
    publisher.calls.clear()
    assert await made.fire_due_timers() == 0  # rescheduled after the settle window
    assert not breaches(publisher)
    assert made.timers.earliest() == pytest.approx(NOW.timestamp() + 1.0)
    # The integrator's response (on time by its event time) lands within the window.
    late_answer = responded(NOW - timedelta(minutes=85), NOW)
    truth.add(late_answer)
    await made.handle_batch([late_answer])
    assert not breaches(publisher)
    assert any(e["type"] == "sla.met" for e in publisher.sla_events())


async def test_a_gap_is_repaired_from_the_store_not_held() -> None:
    made, store, publisher, truth = tracker()
    first = opened(0)
    second = responded(NOW - timedelta(minutes=80), NOW - timedelta(minutes=80), offset=1)
    truth.add(first)
    truth.add(second)
    # The opening's state was lost (a crash between commit and changelog): only 2 arrives.
    await made.handle_batch([second])
    raw = store.data[TICKET.encode()]
    assert state_codec.version_of(raw) == 2
    assert any(e["type"] == "sla.met" for e in publisher.sla_events())


async def test_reconciliation_rebuilds_tickets_whose_state_was_lost() -> None:
    made, store, _, truth = tracker()
    truth.add(opened(0))
    truth.add(responded(NOW - timedelta(minutes=80), NOW - timedelta(minutes=80)))
    await made.reconcile()
    assert state_codec.version_of(store.data[TICKET.encode()]) == 2
    assert made.last_reconciliation["repaired"] == 1
    await made.reconcile()  # nothing behind any more
    assert made.last_reconciliation["repaired"] == 0


async def test_a_store_outage_delays_the_breach_then_fires_it_provisionally() -> None:
    made, _, publisher, truth = tracker(max_delay_s=60)
    first = opened(0)
    truth.add(first)
    await made.handle_batch([first])
    truth.down = True
    publisher.calls.clear()
    assert await made.fire_due_timers() == 1  # the warning waits from NOW on
    clock[0] = NOW + timedelta(seconds=30)
    assert await made.fire_due_timers() == 1
    assert not publisher.sla_events()
    clock[0] = NOW + timedelta(seconds=61)  # held back past the bound: the warning alone
    await made.fire_due_timers()
    (warning,) = publisher.sla_events()
    assert warning["type"] == "sla.warning" and warning["data"]["provisional"] is True
    clock[0] = NOW + timedelta(seconds=62)
    assert await made.fire_due_timers() == 1  # the breach waits its own bound
    assert not breaches(publisher)
    clock[0] = NOW + timedelta(seconds=123)
    await made.fire_due_timers()
    (breach,) = breaches(publisher)
    assert breach["data"]["provisional"] is True
    assert breach["at"] == "2026-11-17T14:30:00Z"


async def test_many_blocked_timers_do_not_hide_the_ones_behind_them() -> None:
    made, store, publisher, truth = tracker(max_delay_s=7200)
    openings = []
    for index in range(250):
        ticket = f"00000000-0000-0000-0000-{index:012d}"
        at = NOW - timedelta(minutes=90)
        raw = ticket_message(
            "ticket.opened", 1, at, index, ticket, channel="web", priority="sev1", plan="gold"
        )
        if index >= 50:
            truth.add(raw)  # the first 50 in heap order are unknown to the store: they wait
        openings.append(raw)
    made.state_recovered(range(TICKET_EVENTS.partitions))
    await made.handle_batch(openings)
    truth.horizon_at = (NOW - timedelta(hours=2)).timestamp()  # a writer stuck for 2 h
    for _ in range(3):
        await made.fire_due_timers()
        clock[0] += timedelta(seconds=0.1)
    truth.horizon_at = clock[0].timestamp()
    for _ in range(4):
        await made.fire_due_timers()
        clock[0] += timedelta(seconds=0.1)
    warned = {e["ticket_id"] for e in publisher.sla_events() if e["type"] == "sla.warning"}
    assert len(warned) == 200  # all that the store knows, though 250 were due


async def test_a_poison_sequence_goes_to_the_dlq_and_its_neighbour_is_stored() -> None:
    made, store, publisher, truth = tracker()
    good = opened(1)
    truth.add(good)
    poison = RawMessage(
        TICKET_EVENTS.name,
        PARTITION,
        0,
        good.key,
        good.value,
        [(k, b"99999999999999999999999" if k == "ce_sequence" else v) for k, v in good.headers],
    )
    await made.handle_batch([poison, good])
    dead = publisher.records(TICKET_EVENTS.dlq)
    assert len(dead) == 1 and dict(dead[0].headers)["dlq_source_offset"] == b"0"
    assert state_codec.version_of(store.data[TICKET.encode()]) == 1


async def test_a_broker_outage_is_retried_not_raised() -> None:
    made, store, publisher, truth = tracker()
    first = opened(0)
    truth.add(first)
    failures = {"left": 2}
    publish = publisher.publish

    async def flaky(records: list[OutRecord]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("broker down")
        await publish(records)

    publisher.publish = flaky  # type: ignore[method-assign]
    await made.handle_batch([first])
    assert TICKET.encode() in store.data


async def test_a_defect_in_one_record_dead_letters_it_and_its_neighbours_are_stored() -> None:
    made, store, publisher, truth = tracker()
    good = opened(1)
    truth.add(good)
    bad = opened(0)
    original = made._handle

    def failing(message: RawMessage, batch: Any) -> str:
        if message.offset == 0:
            raise RuntimeError("a defect")
        return original(message, batch)

    made._handle = failing  # type: ignore[method-assign]
    await made.handle_batch_isolated([bad, good])
    dead = publisher.records(TICKET_EVENTS.dlq)
    assert [dict(r.headers)["dlq_source_offset"] for r in dead] == [b"0"]
    assert state_codec.version_of(store.data[TICKET.encode()]) == 1


def test_a_timer_loop_that_stops_going_round_is_reported_stuck() -> None:
    made, _, _, _ = tracker()
    assert not made.timers_stuck(limit_s=30)
    made.timer_beat -= 31
    assert made.timers_stuck(limit_s=30)


async def test_a_dead_letter_too_large_to_send_again_is_cut_and_says_so() -> None:
    made, _, publisher, _ = tracker()
    huge = RawMessage(TICKET_EVENTS.name, PARTITION, 5, TICKET.encode(), b"x" * 2_000_000, [])
    await made.handle_batch([huge])
    (dead,) = publisher.records(TICKET_EVENTS.dlq)
    assert len(dead.value) <= 512 * 1024
    assert dict(dead.headers)["dlq_truncated_from"] == b"2000000"
