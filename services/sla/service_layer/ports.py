"""What the SLA use cases need from the outside world, as protocols: the adapters in
`services/sla/adapters/` implement them, the unit tests pass in-memory twins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from services.sla.domain.records import OutRecord
from services.sla.domain.tracked import Incoming
from shared.sla import TimelineEvent


class StateStore(Protocol):
    """The local copy of the state table (its changelog is written by the use cases)."""

    def get(self, key: bytes) -> bytes | None: ...
    def remember(self, key: bytes, value: bytes) -> None: ...
    def items(self) -> Iterable[tuple[bytes, bytes]]: ...
    def discard(self, key: bytes) -> None: ...


class Publisher(Protocol):
    async def publish(self, records: list[OutRecord]) -> None:
        """Send and wait until the broker acknowledged every record."""


class Offsets(Protocol):
    """Consumer positions, for the lag metric only (no decision depends on them)."""

    def highwater(self, partition: int) -> int | None: ...
    def committed(self, partition: int) -> int | None: ...


class StoredVersionLike(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def recorded_at(self) -> float: ...


class Truth(Protocol):
    """Intake's event store, read-only (`services/sla/adapters/event_store_truth.py`)."""

    async def horizon(self) -> float | None: ...
    async def versions(self, tickets: Iterable[str]) -> Mapping[str, StoredVersionLike]: ...
    async def all_versions(self) -> Mapping[str, int]: ...
    async def histories(self, after: Mapping[str, int]) -> Mapping[str, list[Incoming]]: ...


class HistoryReader(Protocol):
    """The event store's histories for replay: (ticket id, policy ref, its events), for the
    tickets of shard `shard` of `shards` with an event since `since`
    (`services/sla/adapters/event_store_reader.py`)."""

    def __call__(
        self, database_url: str, since: datetime | None, shard: int, shards: int
    ) -> AsyncIterator[tuple[str, str, list[TimelineEvent]]]: ...


class StateReader(Protocol):
    """The live states in the changelog: ticket key -> newest encoded state
    (`services/sla/adapters/changelog_reader.py`)."""

    async def __call__(self, bootstrap_servers: str, topic: str) -> dict[bytes, bytes]: ...
