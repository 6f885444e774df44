"""The SLA service's handlers: a batch of ticket events in, SLA events and commands out; and the
timer loop that fires deadlines at their time.

Order of effects, which is what makes a crash at any point safe:
1. derive (pure core), 2. publish SLA events, commands and dead letters and wait for the
broker's acknowledgement, 3. write the new states (local table, then the changelog, acknowledged
too), 4. only then return the batch, whose offsets the consumer may commit afterwards.
A crash before 3 replays the events and re-emits the same records with the same deterministic
ids (consumers deduplicate); a crash after 3 finds the states at the newer version and skips
the redelivered events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import orjson

from services.common.dead_letters import dlq_headers
from services.sla.adapters.messages import RawMessage, decode_message
from services.sla.adapters.metrics import SlaMetrics
from services.sla.domain import state_codec
from services.sla.domain.outputs import command_for, sla_event
from services.sla.domain.processing import Applied, ProcessingError, apply_event, fire_due
from services.sla.domain.timers import TimerHeap
from services.sla.domain.tracked import Tracked
from services.sla.domain.watermark import PartitionProgress, watermark
from shared.events.codec import DecodeError
from shared.policy import Policy
from shared.topics import SLA_EVENTS, TICKET_COMMANDS

log = logging.getLogger("ticketflow.sla")

# Timers fired per turn: small, so ticket events waiting for the lock get in between.
TIMER_BATCH = 200
DECODED_CACHE = 10_000
BLOCKED_RECHECK_S = 0.05
IDLE_RECHECK_S = 1.0


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int | None = None


class StateStore(Protocol):
    """The local copy of the state table (its changelog is written by the tracker)."""

    def get(self, key: bytes) -> bytes | None: ...
    def remember(self, key: bytes, value: bytes) -> None: ...
    def items(self) -> Iterable[tuple[bytes, bytes]]: ...
    def discard(self, key: bytes) -> None: ...


class Publisher(Protocol):
    async def publish(self, records: list[OutRecord]) -> None:
        """Send and wait until the broker acknowledged every record."""


class Offsets(Protocol):
    async def end_offsets(self, partitions: Iterable[int]) -> Mapping[int, int]: ...
    def committed(self, partition: int) -> int | None: ...


class SlaTracker:
    def __init__(
        self,
        store: StateStore,
        publisher: Publisher,
        offsets: Offsets,
        policies: Mapping[str, Policy],
        metrics: SlaMetrics,
        state_topic: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        grace_s: float = 0.2,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.offsets = offsets
        self.policies = policies
        self.metrics = metrics
        self.now = now
        self.grace_s = grace_s
        self.state_topic = state_topic
        # Decoded states of recently touched tickets (the table holds bytes).
        self._decoded: dict[bytes, Tracked] = {}
        self.timers = TimerHeap()
        self.progress: dict[int, PartitionProgress] = {}
        self.assigned: set[int] = set()
        self.ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    # --- ticket events -----------------------------------------------------------------------

    async def handle_batch(self, messages: list[RawMessage]) -> None:
        async with self._lock:
            changed: dict[bytes, Tracked] = {}
            out: list[OutRecord] = []
            emitted_at = self.now()
            seen: list[tuple[RawMessage, float | None]] = []
            for message in messages:
                outcome, recorded_at = self._handle(message, changed, out, emitted_at)
                self.metrics.events.labels(outcome).inc()
                seen.append((message, recorded_at))
            await self.publisher.publish(out)
            await self._store(changed)
            for message, recorded_at in seen:
                progress = self.progress.setdefault(message.partition, PartitionProgress())
                progress.processed(message.offset, recorded_at)
        self._count(out)
        self._wake.set()

    def _handle(
        self,
        message: RawMessage,
        changed: dict[bytes, Tracked],
        out: list[OutRecord],
        emitted_at: datetime,
    ) -> tuple[str, float | None]:
        """Apply one message; return its outcome and the store time it carried."""
        try:
            key, event = decode_message(message)
        except DecodeError as exc:
            out.append(dead_letter(message, str(exc), "undecodable"))
            return "dead_lettered", message.timestamp
        recorded = event.recorded_at.timestamp() if event.recorded_at else message.timestamp
        policy = self.policies.get(event.policy)
        if policy is None:
            out.append(dead_letter(message, f"policy {event.policy} is not loaded", "policy"))
            return "dead_lettered", recorded
        try:
            tracked = changed.get(key) or self._load(key)
            applied = apply_event(tracked, event, key.decode(), message.partition, policy)
        except (ProcessingError, state_codec.StateDecodeError, KeyError) as exc:
            out.append(dead_letter(message, str(exc), "refused"))
            return "dead_lettered", recorded
        except Exception as exc:  # a defect on one event must not stop the partition
            log.exception("ticket %s: unexpected error on %s", key.decode(), event.type)
            out.append(dead_letter(message, f"{type(exc).__name__}: {exc}", "error"))
            return "dead_lettered", recorded
        if applied.outcome != "duplicate":
            changed[key] = applied.tracked
            out.extend(self._records(applied, emitted_at))
        if applied.outcome == "held":
            log.warning(
                "ticket %s: sequence %d arrived before %d; held until the gap fills",
                key.decode(),
                event.sequence,
                applied.tracked.version + 1,
            )
        return applied.outcome, recorded

    def _load(self, key: bytes) -> Tracked | None:
        decoded = self._decoded.get(key)
        if decoded is not None:
            return decoded
        raw = self.store.get(key)
        if raw is None:
            return None
        return state_codec.decode(raw, self.policies[state_codec.policy_of(raw)], key.decode())

    async def _store(self, changed: dict[bytes, Tracked]) -> None:
        """Local table, changelog (acknowledged before the offsets can be committed), timers."""
        changelog = []
        for key, tracked in changed.items():
            raw = state_codec.encode(tracked)
            self.store.remember(key, raw)
            changelog.append(OutRecord(self.state_topic, key, raw, partition=tracked.partition))
            self._cache(key, tracked)
            due = tracked.next_due
            self.timers.schedule(key, tracked.partition, due.timestamp() if due else None)
        await self.publisher.publish(changelog)

    def _cache(self, key: bytes, tracked: Tracked) -> None:
        decoded = self._decoded
        decoded.pop(key, None)
        decoded[key] = tracked
        if len(decoded) > DECODED_CACHE:
            del decoded[next(iter(decoded))]

    def _records(self, applied: Applied, emitted_at: datetime) -> list[OutRecord]:
        records = []
        key = applied.tracked.ticket_id.encode()
        for caused in applied.caused:
            event = sla_event(applied.tracked, caused, emitted_at)
            headers = [("ce_type", event["type"].encode())]
            records.append(OutRecord(SLA_EVENTS.name, key, orjson.dumps(event), headers))
            command = command_for(event)
            if command is not None:
                command_key, value = command.to_record()
                records.append(OutRecord(TICKET_COMMANDS.name, command_key, value))
        return records

    def _count(self, out: list[OutRecord]) -> None:
        for record in out:
            kind = record.topic
            if record.topic == SLA_EVENTS.name:
                kind = dict(record.headers)["ce_type"].decode()
            self.metrics.emitted.labels(kind).inc()

    # --- timers ------------------------------------------------------------------------------

    async def run_timers(self) -> None:
        """Sleep until the earliest deadline; fire what the partitions' watermarks allow."""
        while True:
            await self.ready.wait()
            head = self.timers.earliest()
            now = self.now().timestamp()
            if head is None or head + self.grace_s > now:
                # A caught-up partition's watermark is the wall clock minus the grace.
                wait = IDLE_RECHECK_S if head is None else head + self.grace_s - now
                await self._sleep(min(wait, IDLE_RECHECK_S))
                continue
            blocked = await self.fire_due_timers()
            if blocked:
                await self._sleep(BLOCKED_RECHECK_S)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass

    async def fire_due_timers(self) -> int:
        """Fire due timers whose partition watermark passed them; return how many must wait."""
        async with self._lock:
            now = self.now()
            due = self.timers.pop_due(now.timestamp(), TIMER_BATCH)
            if not due:
                return 0
            marks = await self._watermarks({partition for _, partition, _ in due}, now)
            changed: dict[bytes, Tracked] = {}
            out: list[OutRecord] = []
            blocked = 0
            for key, partition, at in due:
                mark = marks[partition]
                if at >= mark or partition not in self.assigned:
                    if partition in self.assigned:
                        self.timers.schedule(key, partition, at)
                        blocked += 1
                    continue
                tracked = self._load(key)
                if tracked is None:
                    continue
                policy = self.policies[tracked.policy]
                applied = fire_due(tracked, policy, datetime.fromtimestamp(mark, UTC))
                changed[key] = applied.tracked
                out.extend(self._records(applied, now))
                self._observe_lateness(applied, now)
            await self.publisher.publish(out)
            await self._store(changed)
        self._count(out)
        return blocked

    async def _watermarks(self, partitions: set[int], now: datetime) -> dict[int, float]:
        ends = await self.offsets.end_offsets(partitions)
        return {
            partition: watermark(
                self.progress.setdefault(partition, PartitionProgress()),
                self.offsets.committed(partition),
                ends.get(partition),
                now.timestamp(),
                self.grace_s,
            )
            for partition in partitions
        }

    def _observe_lateness(self, applied: Applied, now: datetime) -> None:
        for caused in applied.caused:
            kind = caused.derived.type
            if kind in ("sla.breached", "sla.warning"):
                late = (now - caused.derived.at).total_seconds()
                self.metrics.lateness.labels(kind).observe(late)

    # --- rebalancing -------------------------------------------------------------------------

    def partitions_revoked(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        self.ready.clear()
        self._decoded.clear()
        self.assigned -= gone
        self.timers.drop_partitions(gone)
        for partition in gone:
            self.progress.pop(partition, None)

    def state_recovered(self, partitions: Iterable[int]) -> None:
        """Rebuild the timer heap from the recovered state of the assigned partitions."""
        started = time.monotonic()
        self.assigned = set(partitions)
        self.timers.clear()
        self._decoded.clear()
        stale = []
        tracked = 0
        for key, raw in self.store.items():
            due, partition = state_codec.timer_of(raw)
            if partition not in self.assigned:
                stale.append(key)
                continue
            tracked += 1
            if due is not None:
                self.timers.schedule(key, partition, due)
        for key in stale:
            self.store.discard(key)
        log.info(
            "state recovered for partitions %s: %d tickets, %d pending timers (%.2f s)",
            sorted(self.assigned),
            tracked,
            len(self.timers),
            time.monotonic() - started,
        )
        self.ready.set()
        self._wake.set()


def dead_letter(message: RawMessage, error: str, reason: str) -> OutRecord:
    """The original record to `<topic>.dlq`, with the error and where it came from in headers."""
    headers = dlq_headers(message, error, reason)
    log.error(
        "dead-lettered %s[%d]@%d (%s): %s",
        message.topic,
        message.partition,
        message.offset,
        reason,
        error[:300],
    )
    return OutRecord(f"{message.topic}.dlq", message.key or b"", message.value or b"", headers)
