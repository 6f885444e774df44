"""The SLA tracker's orchestration with in-memory ports: order of effects, DLQ, watermark."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import orjson

from services.sla.adapters.messages import RawMessage
from services.sla.adapters.metrics import SlaMetrics
from services.sla.entrypoints.tracker import OutRecord, SlaTracker
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.policy import policies_by_ref
from shared.topics import SLA_EVENTS, TICKET_EVENTS

TICKET = "00000000-0000-0000-0000-00000000000a"
NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
STATE_TOPIC = "state"


class Store:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def remember(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.data.items())

    def discard(self, key: bytes) -> None:
        self.data.pop(key, None)


class Publisher:
    def __init__(self, store: Store) -> None:
        self.calls: list[list[OutRecord]] = []
        self.store = store
        self.state_at_publish: list[int] = []

    async def publish(self, records: list[OutRecord]) -> None:
        self.calls.append(records)
        self.state_at_publish.append(len(self.store.data))


class Offsets:
    def __init__(self) -> None:
        self.ends: dict[int, int] = {}

    async def end_offsets(self, partitions: Iterable[int]) -> Mapping[int, int]:
        return {p: self.ends.get(p, 0) for p in partitions}

    def committed(self, partition: int) -> int | None:
        return None


def tracker() -> tuple[SlaTracker, Store, Publisher, Offsets]:
    store = Store()
    publisher = Publisher(store)
    offsets = Offsets()
    clock = {"now": NOW}
    made = SlaTracker(
        store,
        publisher,
        offsets,
        policies_by_ref(),
        SlaMetrics(),
        STATE_TOPIC,
        now=lambda: clock["now"],
        grace_s=0.0,
    )
    made.state_recovered([3])
    return made, store, publisher, offsets


def opened(offset: int = 0) -> RawMessage:
    envelope = Envelope(
        type="ticket.opened",
        source="test",
        subject=TICKET,
        time=NOW - timedelta(minutes=90),  # sev1 gold: due 30 minutes before NOW
        recorded_at=NOW - timedelta(minutes=90),
        sequence=1,
        account="acme",
        policy="voximplant@1",
        data={"channel": "web", "priority": "sev1", "plan": "gold"},
    )
    record = to_kafka(envelope)
    return RawMessage(TICKET_EVENTS.name, 3, offset, record.key, record.value, list(record.headers))


def types(records: list[OutRecord]) -> list[str]:
    return [orjson.loads(r.value)["type"] for r in records if r.topic == SLA_EVENTS.name]


async def test_effects_are_published_before_the_state_and_the_changelog_goes_to_its_partition() -> (
    None
):
    made, store, publisher, _ = tracker()
    await made.handle_batch([opened()])
    outputs, changelog = publisher.calls
    assert publisher.state_at_publish[0] == 0  # SLA events acked before any state is written
    assert "sla.ticket_accepted" in types(outputs)
    assert [(r.topic, r.partition, r.key) for r in changelog] == [(STATE_TOPIC, 3, TICKET.encode())]
    assert store.data[TICKET.encode()] == changelog[0].value
    assert len(made.timers) == 1

    await made.handle_batch([opened()])  # redelivered: nothing new
    assert publisher.calls[-2:] == [[], []]


async def test_bad_records_go_to_the_dead_letter_topic_with_where_they_came_from() -> None:
    made, _, publisher, _ = tracker()
    bad = RawMessage(TICKET_EVENTS.name, 3, 17, TICKET.encode(), b"{", [])
    await made.handle_batch([bad, opened(18)])
    outputs = publisher.calls[0]
    dead = [r for r in outputs if r.topic == TICKET_EVENTS.dlq]
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["dlq_source_offset"] == b"17" and headers["dlq_reason"] == b"undecodable"
    assert "sla.ticket_accepted" in types(outputs)  # the partition moved on


async def test_timers_wait_for_the_watermark_then_fire_stamped_with_the_deadline() -> None:
    made, _, publisher, offsets = tracker()
    await made.handle_batch([opened(0)])
    publisher.calls.clear()
    # An unprocessed record sits in the partition: the worker lags, the breach must wait.
    offsets.ends[3] = 2
    assert await made.fire_due_timers() >= 1
    assert all("sla.breached" not in types(call) for call in publisher.calls)
    # Caught up: the breach fires, stamped with the deadline, not with the firing time.
    offsets.ends[3] = 1
    assert await made.fire_due_timers() == 0
    fired = [
        orjson.loads(r.value)
        for call in publisher.calls
        for r in call
        if r.topic == SLA_EVENTS.name
    ]
    breach = next(e for e in fired if e.get("type") == "sla.breached")
    assert breach["at"] == "2026-11-17T14:30:00Z"
    assert breach["metric"] == "first_response"
