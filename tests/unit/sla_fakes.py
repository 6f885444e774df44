"""In-memory twins of the SLA worker's ports (`services/sla/service_layer/ports.py`), a worker
wired to them, and ticket events as the worker reads them from the ticket topic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson

from services.sla.adapters.messages import RawMessage, decode_message
from services.sla.adapters.metrics import SlaMetrics
from services.sla.adapters.partitioning import partition_of
from services.sla.domain.records import OutRecord
from services.sla.domain.tracked import Incoming
from services.sla.service_layer import assignment
from services.sla.service_layer.worker import Worker
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.policy import policies_by_ref
from shared.topics import SLA_EVENTS, TICKET_EVENTS

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
TICKET = "00000000-0000-0000-0000-00000000000a"
PARTITION = partition_of(TICKET.encode(), TICKET_EVENTS.partitions)

W = TypeVar("W", bound=Worker)


class MemoryStateStore:
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


class MemoryPublisher:
    """Keeps every publish call, and how many states were stored when it came."""

    def __init__(self, store: MemoryStateStore) -> None:
        self.calls: list[list[OutRecord]] = []
        self.stored_at_call: list[int] = []
        self._store = store

    async def publish(self, records: list[OutRecord]) -> None:
        self.calls.append(list(records))
        self.stored_at_call.append(len(self._store.data))

    def records(self, topic: str) -> list[OutRecord]:
        return [record for call in self.calls for record in call if record.topic == topic]

    def sla_events(self) -> list[dict[str, Any]]:
        return [orjson.loads(record.value) for record in self.records(SLA_EVENTS.name)]


class CaughtUp:
    """Consumer positions of a topic with nothing in it."""

    def highwater(self, partition: int) -> int | None:
        return 0

    def committed(self, partition: int) -> int | None:
        return None


@dataclass(frozen=True)
class StoredVersion:
    version: int
    recorded_at: float


class MemoryEventStore:
    """Intake's event store: ticket -> its events, a horizon the test sets, and `down` to make
    every read fail."""

    def __init__(self) -> None:
        self.events: dict[str, list[Incoming]] = {}
        self.horizon_at: float | None = NOW.timestamp()
        self.down = False

    def add(self, *messages: RawMessage) -> None:
        for message in messages:
            key, event = decode_message(message)
            self.events.setdefault(key.decode(), []).append(event)

    def _check(self) -> None:
        if self.down:
            raise ConnectionRefusedError("event store down")

    async def horizon(self) -> float | None:
        self._check()
        return self.horizon_at

    async def versions(self, tickets: Iterable[str]) -> Mapping[str, StoredVersion]:
        """Like the store's query: the latest version, and when the latest was recorded."""
        self._check()
        return {
            ticket: StoredVersion(
                self.events[ticket][-1].sequence,
                max(e.recorded_at.timestamp() for e in self.events[ticket] if e.recorded_at),
            )
            for ticket in tickets
            if ticket in self.events
        }

    async def all_versions(self) -> Mapping[str, int]:
        self._check()
        return {ticket: events[-1].sequence for ticket, events in self.events.items()}

    async def histories(self, after: Mapping[str, int]) -> Mapping[str, list[Incoming]]:
        self._check()
        return {
            ticket: [e for e in self.events.get(ticket, []) if e.sequence > version]
            for ticket, version in after.items()
        }


@dataclass
class Wired(Generic[W]):
    worker: W
    store: MemoryStateStore
    publisher: MemoryPublisher
    truth: MemoryEventStore
    clock: list[datetime]
    """The worker's clock: it reads `clock[0]`, which the test moves."""


def wire(
    kind: type[W],
    clock: list[datetime],
    state_topic: str,
    max_delay_s: float,
    policies_loaded: bool = True,
) -> Wired[W]:
    """A worker (`Worker` or `SlaTracker`) on fresh in-memory ports, assigned PARTITION."""
    store = MemoryStateStore()
    publisher = MemoryPublisher(store)
    truth = MemoryEventStore()
    worker = kind(
        store,
        publisher,
        CaughtUp(),
        truth,
        policies_by_ref() if policies_loaded else {},
        SlaMetrics(),
        state_topic,
        now=lambda: clock[0],
        settle_s=2.0,
        max_delay_s=max_delay_s,
    )
    assignment.state_recovered(worker, [PARTITION])
    return Wired(worker, store, publisher, truth, clock)


def ticket_message(
    kind: str,
    sequence: int,
    at: datetime,
    offset: int,
    ticket: str = TICKET,
    recorded_at: datetime | None = None,
    **data: Any,
) -> RawMessage:
    """A voximplant@1 ticket event as the worker reads it, on the ticket's partition."""
    record = to_kafka(
        Envelope(
            type=kind,
            source="test",
            subject=ticket,
            time=at,
            recorded_at=recorded_at or at,
            sequence=sequence,
            account="acme",
            policy="voximplant@1",
            data=data,
        )
    )
    partition = partition_of(record.key, TICKET_EVENTS.partitions)
    return RawMessage(
        TICKET_EVENTS.name, partition, offset, record.key, record.value, list(record.headers)
    )


def sla_types(records: list[OutRecord]) -> list[str]:
    """The types of the SLA events among `records`, in order."""
    return [orjson.loads(r.value)["type"] for r in records if r.topic == SLA_EVENTS.name]
