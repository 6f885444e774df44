"""The SLA use cases of `services/sla/service_layer/`, each run on in-memory fakes of its ports
(no Faust, no broker, no database): what they emit, store, schedule and dead-letter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from services.sla.adapters.messages import RawMessage
from services.sla.adapters.partitioning import partition_of
from services.sla.domain import state_codec
from services.sla.domain.processing import Decision, Traced
from services.sla.domain.tracked import Incoming
from services.sla.service_layer import assignment, deadlines, ingest, reconcile, repair
from services.sla.service_layer.commit import Batch, encode
from services.sla.service_layer.dead_letters import DLQ_MAX_KEY, dead_letter
from services.sla.service_layer.effects import records_of
from services.sla.service_layer.outages import Outages
from services.sla.service_layer.replay import ReplayJob, replay, replay_shard
from services.sla.service_layer.worker import Worker
from shared.sla import Emitted, TimelineEvent
from shared.topics import SLA_EVENTS, TICKET_COMMANDS, TICKET_EVENTS
from tests.unit.sla_fakes import NOW, PARTITION, TICKET, Wired, ticket_message, wire
from tests.unit.sla_fakes import sla_types as types

OPENED_AT = NOW - timedelta(minutes=90)  # voximplant sev1 gold: first response due in 1 h
STATE_TOPIC = "sla-state"


def fixture(policies_loaded: bool = True, max_delay_s: float = 120.0) -> Wired[Worker]:
    return wire(Worker, [NOW], STATE_TOPIC, max_delay_s, policies_loaded)


def handle(worker: Worker) -> ingest.Handle:
    """`handle_message` bound to `worker`, as `SlaTracker` passes it."""
    return lambda message, batch: ingest.handle_message(worker, message, batch)


# --- ticket events --------------------------------------------------------------------------------


def opened(offset: int = 0, ticket: str = TICKET) -> RawMessage:
    return ticket_message(
        "ticket.opened",
        1,
        OPENED_AT,
        offset,
        ticket,
        channel="web",
        priority="sev1",
        plan="gold",
        ticket_number="T-17",
    )


def responded(offset: int = 1, ticket: str = TICKET) -> RawMessage:
    return ticket_message("ticket.responded", 2, OPENED_AT + timedelta(minutes=10), offset, ticket)


def ticket_elsewhere() -> str:
    """A ticket id whose partition is not PARTITION."""
    for index in range(1000):
        ticket = f"00000000-0000-0000-0000-{index:012d}"
        if partition_of(ticket.encode(), TICKET_EVENTS.partitions) != PARTITION:
            return ticket
    raise AssertionError("every ticket in one partition")


def emitted(worker: Worker, kind: str) -> float:
    value = worker.metrics.registry.get_sample_value("ticketflow_sla_emitted_total", {"type": kind})
    return value or 0.0


# --- ingest -------------------------------------------------------------------------------------


def test_an_opening_is_folded_into_the_batch_with_its_sla_events_and_its_source() -> None:
    f = fixture()
    batch = Batch(NOW)
    message = opened()
    assert ingest.handle_message(f.worker, message, batch) == "applied"
    tracked = batch.changed[TICKET.encode()]
    assert (tracked.version, tracked.number, tracked.partition) == (1, "T-17", PARTITION)
    assert types(batch.out) == ["sla.ticket_accepted", "sla.clock_started"]
    started = orjson.loads(batch.out[1].value)
    assert started["metric"] == "first_response"
    assert started["data"]["due_at"] == "2026-11-17T14:30:00Z"
    assert started["ticket_number"] == "T-17"
    assert batch.sources == {TICKET.encode(): [message]}


def test_an_event_of_a_policy_not_loaded_is_dead_lettered_and_changes_nothing() -> None:
    f = fixture(policies_loaded=False)
    batch = Batch(NOW)
    assert ingest.handle_message(f.worker, opened(offset=4), batch) == "dead_lettered"
    (record,) = batch.out
    headers = dict(record.headers)
    assert record.topic == TICKET_EVENTS.dlq
    assert headers["dlq_reason"] == b"policy" and headers["dlq_source_offset"] == b"4"
    assert batch.changed == {}


def test_an_event_before_the_opening_is_refused_to_the_dead_letter_topic() -> None:
    f = fixture()
    batch = Batch(NOW)
    first = ticket_message("ticket.responded", 1, NOW, 0)
    assert ingest.handle_message(f.worker, first, batch) == "dead_lettered"
    (record,) = batch.out
    assert dict(record.headers)["dlq_reason"] == b"refused"
    assert b"before ticket.opened" in dict(record.headers)["dlq_error"]


async def test_a_batch_publishes_its_effects_before_storing_the_state_and_its_changelog() -> None:
    f = fixture()
    await ingest.handle_batch(f.worker, [opened()], handle(f.worker))
    effects, changelog = f.publisher.calls
    assert types(effects) == ["sla.ticket_accepted", "sla.clock_started"]
    assert f.publisher.stored_at_call == [0, 1]  # effects acked before the state is written
    assert [(r.topic, r.key, r.partition) for r in changelog] == [
        (STATE_TOPIC, TICKET.encode(), PARTITION)
    ]
    assert f.store.data[TICKET.encode()] == changelog[0].value
    # The 75 % warning of the 1 h first response is the ticket's next timer.
    assert f.worker.timers.earliest() == (OPENED_AT + timedelta(minutes=45)).timestamp()
    assert f.worker.progress[PARTITION].next_offset == 1
    assert emitted(f.worker, "sla.ticket_accepted") == 1


async def test_a_redelivered_event_emits_nothing_and_keeps_the_state() -> None:
    f = fixture()
    await ingest.handle_batch(f.worker, [opened(), responded()], handle(f.worker))
    stored = f.store.data[TICKET.encode()]
    f.publisher.calls.clear()
    await ingest.handle_batch(f.worker, [responded()], handle(f.worker))
    assert f.publisher.calls == [[], []]
    assert f.store.data[TICKET.encode()] == stored


async def test_a_defect_in_one_record_dead_letters_only_that_record() -> None:
    f = fixture()

    def handle(message: RawMessage, batch: Batch) -> str:
        if message.offset == 0:
            raise RuntimeError("a defect")
        return ingest.handle_message(f.worker, message, batch)

    async def handle_batch(messages: list[RawMessage]) -> None:
        await ingest.handle_batch(f.worker, messages, handle)

    second = opened(offset=1, ticket=ticket_elsewhere())
    await ingest.handle_batch_isolated(f.worker, [opened(offset=0), second], handle_batch)
    (dead,) = f.publisher.records(TICKET_EVENTS.dlq)
    assert dict(dead.headers)["dlq_source_offset"] == b"0"
    assert dict(dead.headers)["dlq_error"] == b"RuntimeError: a defect"
    assert list(f.store.data) == [second.key]


# --- commit ---------------------------------------------------------------------------------------


def test_a_state_that_cannot_be_encoded_loses_its_effects_and_dead_letters_its_events() -> None:
    f = fixture()
    batch = Batch(NOW)
    good, bad = opened(ticket=ticket_elsewhere()), opened()
    ingest.handle_message(f.worker, good, batch)
    ingest.handle_message(f.worker, bad, batch)
    broken = batch.changed[bad.key]
    unstorable = Incoming("e", "ticket.comment_added", NOW, 9, "acme", broken.policy, {"n": 2**70})
    batch.changed[bad.key] = replace(broken, held=(unstorable,))
    encoded = encode(batch)
    assert list(encoded) == [good.key]
    assert {r.key for r in batch.out if r.topic == SLA_EVENTS.name} == {good.key}
    (dead,) = [r for r in batch.out if r.topic == TICKET_EVENTS.dlq]
    assert dead.value == bad.value
    assert dict(dead.headers)["dlq_error"] == b"the resulting state cannot be stored"


# --- effects --------------------------------------------------------------------------------------


def test_a_closure_timeout_is_an_sla_event_and_the_command_that_closes_the_ticket() -> None:
    f = fixture()
    batch = Batch(NOW)
    ingest.handle_message(f.worker, opened(), batch)
    tracked = batch.changed[TICKET.encode()]
    due = Emitted("sla.close_by_timeout_due", NOW, "closure_confirmation", {"based_on_version": 1})
    sla, command = records_of(
        Decision(tracked, "applied", [Traced(due, None)]), NOW, f.worker.metrics
    )
    assert (sla.topic, command.topic) == (SLA_EVENTS.name, TICKET_COMMANDS.name)
    assert command.key == TICKET.encode()
    body = orjson.loads(command.value)
    assert body["type"] == "close_by_timeout"
    assert body["id"] == orjson.loads(sla.value)["id"]  # re-emitted: the same command id
    assert body["based_on_version"] == 1


def test_only_breaches_and_warnings_are_flagged_provisional() -> None:
    f = fixture()
    batch = Batch(NOW)
    ingest.handle_message(f.worker, opened(), batch)
    tracked = batch.changed[TICKET.encode()]
    traced = [
        Traced(Emitted("sla.breached", NOW, "first_response", {"due_at": NOW}), None),
        Traced(Emitted("sla.met", NOW, "resolution", {"due_at": NOW}), None),
    ]
    records = records_of(Decision(tracked, "applied", traced), NOW, f.worker.metrics, True)
    breach, met = (orjson.loads(record.value) for record in records)
    assert breach["data"]["provisional"] is True
    assert "provisional" not in met["data"]


# --- repairs from the event store -----------------------------------------------------------------


async def test_a_gap_the_store_cannot_serve_is_kept_then_repaired_when_it_answers() -> None:
    f = fixture()
    first, second = opened(), responded()
    f.truth.add(first, second)
    f.truth.down = True
    await ingest.handle_batch(f.worker, [second], handle(f.worker))
    assert f.worker.gaps == {TICKET.encode()}
    assert not f.publisher.sla_events()  # held, not dropped, and nothing emitted
    f.truth.down = False
    await repair.repair_gaps(f.worker)
    assert f.worker.gaps == set()
    assert state_codec.version_of(f.store.data[TICKET.encode()]) == 2
    assert [e["type"] for e in f.publisher.sla_events()] == [
        "sla.ticket_accepted",
        "sla.clock_started",
        "sla.met",
    ]


async def test_an_unreadable_stored_state_is_rebuilt_from_the_event_store() -> None:
    # A corrupt value, or a format another version wrote: the state is lost, not the ticket.
    f = fixture()
    first, second = opened(), responded()
    f.truth.add(first, second)
    await ingest.handle_batch(f.worker, [first], handle(f.worker))
    key = TICKET.encode()
    f.store.data[key] = f.store.data[key][:11] + b"\xff" * 30
    f.worker.decoded.clear()
    f.publisher.calls.clear()
    await ingest.handle_batch(f.worker, [second], handle(f.worker))
    assert state_codec.version_of(f.store.data[key]) == 2
    assert not [r for r in f.publisher.calls[0] if r.topic.endswith(".dlq")]
    assert "sla.met" in [e["type"] for e in f.publisher.sla_events()]
    # On reconciliation too: an unreadable state counts as behind the store.
    f.store.data[key] = b"\x00" * 10 + b"\x09garbage"
    f.worker.decoded.clear()
    await reconcile.reconcile(f.worker)
    assert f.worker.last_reconciliation["repaired"] == 1
    assert state_codec.version_of(f.store.data[key]) == 2


async def test_reconciliation_rebuilds_assigned_tickets_missing_locally_only() -> None:
    f = fixture()
    elsewhere = ticket_elsewhere()
    f.truth.add(opened(), responded(), opened(ticket=elsewhere))
    await reconcile.reconcile(f.worker)
    assert list(f.store.data) == [TICKET.encode()]
    assert state_codec.version_of(f.store.data[TICKET.encode()]) == 2
    assert f.worker.last_reconciliation["tickets"] == 2
    assert f.worker.last_reconciliation["repaired"] == 1
    assert f.worker.reconciled.is_set()


# --- deadlines ------------------------------------------------------------------------------------


async def test_due_timers_fire_up_to_the_store_horizon_stamped_with_their_deadline() -> None:
    f = fixture()
    first = opened()
    f.truth.add(first)
    await ingest.handle_batch(f.worker, [first], handle(f.worker))
    f.publisher.calls.clear()
    f.truth.horizon_at = (NOW - timedelta(minutes=40)).timestamp()  # past the warning only
    assert await deadlines.fire_due_timers(f.worker) == 0
    assert [(e["type"], e["at"]) for e in f.publisher.sla_events()] == [
        ("sla.warning", "2026-11-17T14:15:00Z")
    ]
    assert await deadlines.fire_due_timers(f.worker) == 1  # the breach waits for the horizon
    f.clock[0] = NOW + timedelta(seconds=0.1)  # the recheck is due; the horizon has passed
    f.truth.horizon_at = f.clock[0].timestamp()
    assert await deadlines.fire_due_timers(f.worker) == 0
    assert [(e["type"], e["at"]) for e in f.publisher.sla_events()][1:] == [
        ("sla.breached", "2026-11-17T14:30:00Z")
    ]


async def test_a_revoked_partition_fires_no_timers() -> None:
    f = fixture()
    first = opened()
    f.truth.add(first)
    await ingest.handle_batch(f.worker, [first], handle(f.worker))
    assignment.partitions_revoked(f.worker, [PARTITION])
    f.publisher.calls.clear()
    assert len(f.worker.timers) == 0 and PARTITION not in f.worker.progress
    assert not f.worker.ready.is_set()
    assert await deadlines.fire_due_timers(f.worker) == 0
    assert f.publisher.calls == []


def test_recovery_schedules_the_assigned_tickets_and_forgets_the_others() -> None:
    f = fixture()
    elsewhere = opened(ticket=ticket_elsewhere())
    for message in (opened(), elsewhere):
        batch = Batch(NOW)
        ingest.handle_message(f.worker, message, batch)
        f.store.data[message.key] = state_codec.encode(batch.changed[message.key])
    assignment.state_recovered(f.worker, [PARTITION])
    assert list(f.store.data) == [TICKET.encode()]
    assert len(f.worker.timers) == 1
    assert f.worker.ready.is_set()


def test_a_timer_loop_that_stopped_going_round_is_stuck() -> None:
    f = fixture()
    assert not deadlines.timers_stuck(f.worker, limit_s=30)
    f.worker.timer_beat -= 31
    assert deadlines.timers_stuck(f.worker, limit_s=30)


# --- outages and dead letters ---------------------------------------------------------------------


async def test_an_unavailable_dependency_is_retried_until_it_answers() -> None:
    attempts = []

    async def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("down")
        return 42

    assert await Outages().until_done("broker", flaky) == 42
    assert len(attempts) == 3


def test_a_dead_letter_keeps_the_record_and_says_where_it_came_from() -> None:
    message = RawMessage(TICKET_EVENTS.name, 3, 77, b"k" * 5000, b"{", [("ce_type", b"x")])
    record = dead_letter(message, "bad json", "undecodable")
    assert record.topic == TICKET_EVENTS.dlq
    assert len(record.key) == DLQ_MAX_KEY and record.value == b"{"
    headers = dict(record.headers)
    assert headers["ce_type"] == b"x"
    assert (headers["dlq_source_partition"], headers["dlq_source_offset"]) == (b"3", b"77")
    assert headers["dlq_reason"] == b"undecodable" and headers["dlq_service"] == b"sla"


# --- replay ---------------------------------------------------------------------------------------

Histories = list[tuple[str, str, list[TimelineEvent]]]


def history_reader(tickets: Histories) -> Any:
    async def read(
        database_url: str, since: datetime | None, shard: int, shards: int
    ) -> AsyncIterator[tuple[str, str, list[TimelineEvent]]]:
        for ticket in tickets:
            yield ticket

    return read


def answered_history() -> list[TimelineEvent]:
    terms = {"channel": "web", "priority": "sev1", "plan": "gold"}
    return [
        TimelineEvent("ticket.opened", OPENED_AT, terms, 1),
        TimelineEvent("ticket.responded", OPENED_AT + timedelta(minutes=10), {}, 2),
    ]


async def test_a_replayed_shard_reports_statuses_unknown_policies_and_refused_histories() -> None:
    refused = [TimelineEvent("ticket.responded", OPENED_AT, {}, 1)]
    read = history_reader(
        [
            (TICKET, "voximplant@1", answered_history()),
            ("b", "nobody@1", answered_history()),
            ("c", "voximplant@1", refused),
        ]
    )
    result = await replay_shard(ReplayJob("postgresql://unused", NOW), read)
    assert (result.tickets, result.events) == (3, 5)
    assert list(result.current) == [TICKET]
    assert result.current[TICKET]["first_response"] == "met"
    assert result.unknown == {"nobody@1": 1}
    assert [item["ticket_id"] for item in result.refused] == ["c"]
    assert "starts with ticket.opened" in result.refused[0]["error"]


async def test_a_replay_names_the_tickets_whose_live_state_differs_from_their_history() -> None:
    f = fixture()
    elsewhere = ticket_elsewhere()
    live: dict[bytes, bytes] = {}
    for message in (opened(), opened(ticket=elsewhere)):  # the live side never saw the answer
        batch = Batch(NOW)
        ingest.handle_message(f.worker, message, batch)
        live[message.key] = state_codec.encode(batch.changed[message.key])

    async def read_live(bootstrap_servers: str, topic: str) -> dict[bytes, bytes]:
        assert (bootstrap_servers, topic) == ("broker:9092", STATE_TOPIC)
        return live

    result = await replay(
        ReplayJob("postgresql://unused", NOW),
        live=("broker:9092", STATE_TOPIC),
        read=history_reader([(TICKET, "voximplant@1", answered_history())]),
        read_live=read_live,
    )
    assert result["live"]["differences"] == [
        {"ticket_id": TICKET, "metric": "first_response", "live": "breached", "replayed": "met"}
    ]
    assert result["live"]["only_live"] == [elsewhere]
    assert (result["tickets"], result["events"]) == (1, 2)


async def test_a_worker_set_to_plain_states_writes_what_older_releases_read() -> None:
    # TICKETFLOW_SLA_STATE_FORMAT=plain, before a rollback to a release without format 1.
    f = fixture()
    f.worker.plain_states = True
    await ingest.handle_batch(f.worker, [opened()], handle(f.worker))
    raw = f.store.data[TICKET.encode()]
    assert raw[10:11] == b"{" and orjson.loads(raw[10:])["s"]["v"] == 1


async def test_a_worker_set_to_plain_states_rewrites_every_deflated_one_on_reconciliation() -> None:
    # Idle tickets too: a release before format 1 can then take over their partitions.
    f = fixture()
    first = opened()
    f.truth.add(first)
    await ingest.handle_batch(f.worker, [first], handle(f.worker))
    key = TICKET.encode()
    assert state_codec.is_deflated(f.store.data[key])
    f.worker.plain_states = True
    await reconcile.reconcile(f.worker)
    assert f.store.data[key][10:11] == b"{"
    assert f.worker.last_reconciliation["rewritten_plain"] == 1
    assert state_codec.version_of(f.store.data[key]) == 1
    changelog = f.publisher.records(STATE_TOPIC)
    assert changelog and changelog[-1].value == f.store.data[key]
