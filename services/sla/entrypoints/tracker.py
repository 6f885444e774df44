"""The SLA service's handlers: a batch of ticket events in, SLA events and commands out; and the
timer loop that fires deadlines at their time.

Order of effects, which is what makes a crash at any point safe:
1. derive (pure core) and encode the new states (a state that cannot be encoded dead-letters
its events here, before anything left the worker), 2. publish SLA events, commands and dead
letters and wait for the broker's acknowledgement, 3. write the new states (local table, then
the changelog, acknowledged too), 4. only then return the batch: Faust acks its events after
the handler returns, and commits only acked offsets. Publishing retries until the broker takes
the records, so the handler never gives a batch back unprocessed (an error would let Faust ack
the batch anyway).
A crash before 3 replays the events and re-emits the same records with the same deterministic
ids (consumers deduplicate); a crash after 3 finds the states at the newer version and skips
the redelivered events.

The event store (read-only) is the source of truth for "have I seen everything?":
- a gap (sequence n+2 before n+1) is repaired from the store at once, never held;
- a deadline fires only once the store's horizon (every event recorded before it is committed,
  see `event_store_truth`) has passed it and the ticket's state is at the store's version
  (a lagging ticket is brought up to date from the store first), so a response still in the
  topic, or still in the outbox, prevents the breach;
- a deadline already past when the ticket's latest event was recorded (a ticket logged late)
  fires no earlier than `settle_s` after that event, so the rest of a burst that backfills a
  ticket's history arrives before the breach is decided;
- past `max_delay_s` after the deadline without a verdict from the store (database down, a
  writer transaction stuck open), the breach fires anyway, flagged `provisional`;
- on assignment, every ticket of the assigned partitions is reconciled with the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import orjson

from services.common.dead_letters import dlq_headers
from services.sla.adapters.messages import RawMessage, decode_message
from services.sla.adapters.metrics import SlaMetrics
from services.sla.adapters.partitioning import partition_of
from services.sla.domain import state_codec
from services.sla.domain.outputs import command_for, sla_event
from services.sla.domain.processing import Applied, ProcessingError, apply_event, fire_due
from services.sla.domain.timers import TimerHeap
from services.sla.domain.tracked import Incoming, Tracked
from services.sla.domain.watermark import PartitionProgress, eligible_at, lag
from shared.events.codec import DecodeError
from shared.events.published import record_headers
from shared.events.sla import SOURCE as SLA_SOURCE
from shared.policy import Policy
from shared.topics import SLA_EVENTS, TICKET_COMMANDS, TICKET_EVENTS

log = logging.getLogger("ticketflow.sla")
T = TypeVar("T")

# Timers fired per turn: small, so ticket events waiting for the lock get in between.
TIMER_BATCH = 200
DECODED_CACHE = 10_000
BLOCKED_RECHECK_S = 0.05
IDLE_RECHECK_S = 1.0
RECONCILE_CHUNK = 500
DEFECT_RETRY_S = 5.0
CATCH_UP_S = 300.0
TIMERS_STUCK_S = 30.0
DLQ_MAX_VALUE = 512 * 1024
DLQ_MAX_KEY = 1024
CATCH_UP_POLL_S = 0.5
PROVISIONAL_STEP_S = 0.001
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0
EFFECT_TOPICS = (SLA_EVENTS.name, TICKET_COMMANDS.name)
PROVISIONAL_TYPES = frozenset({"sla.breached", "sla.warning"})


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


@dataclass
class _Batch:
    """What one turn derived: new states, records to publish, and the messages per ticket."""

    emitted_at: datetime
    changed: dict[bytes, Tracked] = field(default_factory=dict)
    out: list[OutRecord] = field(default_factory=list)
    sources: dict[bytes, list[RawMessage]] = field(default_factory=dict)


class SlaTracker:
    def __init__(
        self,
        store: StateStore,
        publisher: Publisher,
        offsets: Offsets,
        truth: Truth,
        policies: Mapping[str, Policy],
        metrics: SlaMetrics,
        state_topic: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        settle_s: float = 2.0,
        max_delay_s: float = 120.0,
        partitions: int = TICKET_EVENTS.partitions,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.offsets = offsets
        self.truth = truth
        self.policies = policies
        self.metrics = metrics
        self.now = now
        self.settle_s = settle_s
        self.max_delay_s = max_delay_s
        self.partitions = partitions
        self.state_topic = state_topic
        # Decoded states of recently touched tickets (the table holds bytes).
        self._decoded: dict[bytes, Tracked] = {}
        self.timers = TimerHeap()
        self.progress: dict[int, PartitionProgress] = {}
        self.assigned: set[int] = set()
        self.ready = asyncio.Event()
        self.reconciled = asyncio.Event()
        self.last_reconciliation: dict[str, float | int] = {}
        self._gaps: set[bytes] = set()
        self._reconciling: asyncio.Future[None] | None = None
        self.timer_beat = time.monotonic()
        """When the timer loop last went round (it does at least every IDLE_RECHECK_S)."""
        # Due deadlines held back, by ticket: (deadline, since when) for the provisional bound.
        self._waiting: dict[bytes, tuple[float, float]] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._failing: set[str] = set()

    # --- ticket events -----------------------------------------------------------------------

    async def handle_batch_isolated(self, messages: list[RawMessage]) -> None:
        """`handle_batch`, and if it fails on a defect, each message on its own, dead-lettering
        the ones that still fail: the batch is never handed back half done (Faust would ack
        and commit it all the same) and one bad record never stops its neighbours."""
        try:
            await self.handle_batch(messages)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a batch of %d failed; processing its records one by one", len(messages))
        for message in messages:
            try:
                await self.handle_batch([message])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception(
                    "record %s[%d]@%d failed", message.topic, message.partition, message.offset
                )
                self.metrics.events.labels("dead_lettered").inc()
                await self._publish([dead_letter(message, f"{type(exc).__name__}: {exc}", "error")])

    async def handle_batch(self, messages: list[RawMessage]) -> None:
        async with self._lock:
            batch = _Batch(self.now())
            for message in messages:
                self.metrics.events.labels(self._handle(message, batch)).inc()
            gapped = [key for key, tracked in batch.changed.items() if tracked.held]
            if gapped:
                await self._repair_many(gapped, batch, "gap")
            await self._commit(batch)
            for message in messages:
                progress = self.progress.setdefault(message.partition, PartitionProgress())
                progress.processed(message.offset)
        self._wake.set()

    def _handle(self, message: RawMessage, batch: _Batch) -> str:
        """Apply one message; return its outcome."""
        try:
            key, event = decode_message(message)
        except DecodeError as exc:
            batch.out.append(dead_letter(message, str(exc), "undecodable"))
            return "dead_lettered"
        policy = self.policies.get(event.policy)
        if policy is None:
            batch.out.append(dead_letter(message, f"policy {event.policy} is not loaded", "policy"))
            return "dead_lettered"
        try:
            tracked = batch.changed.get(key) or self._load(key)
            applied = apply_event(tracked, event, key.decode(), message.partition, policy)
        except (ProcessingError, state_codec.StateDecodeError, KeyError) as exc:
            batch.out.append(dead_letter(message, str(exc), "refused"))
            return "dead_lettered"
        except Exception as exc:  # a defect on one event must not stop the partition
            log.exception("ticket %s: unexpected error on %s", key.decode(), event.type)
            batch.out.append(dead_letter(message, f"{type(exc).__name__}: {exc}", "error"))
            return "dead_lettered"
        if applied.outcome != "duplicate":
            batch.changed[key] = applied.tracked
            batch.sources.setdefault(key, []).append(message)
            batch.out.extend(self._records(applied, batch.emitted_at))
        if applied.outcome == "held":
            log.warning(
                "ticket %s: sequence %d arrived before %d; repairing from the event store",
                key.decode(),
                event.sequence,
                applied.tracked.version + 1,
            )
        return applied.outcome

    def _load(self, key: bytes) -> Tracked | None:
        decoded = self._decoded.get(key)
        if decoded is not None:
            return decoded
        raw = self.store.get(key)
        if raw is None:
            return None
        return state_codec.decode(raw, self.policies[state_codec.policy_of(raw)], key.decode())

    # --- repair from the event store ---------------------------------------------------------

    async def _repair_many(self, keys: list[bytes], batch: _Batch, reason: str) -> bool:
        """Bring tickets up to the store's version (one query); False when the store cannot be
        read (they are repaired on a later turn: their events are kept, never dropped)."""
        current = {key: batch.changed.get(key) or self._load(key) for key in keys}
        after = {key.decode(): (t.version if t is not None else 0) for key, t in current.items()}
        try:
            histories = await self.truth.histories(after)
        except Exception as exc:
            self._gaps.update(keys)
            self._failed("event store", exc)
            return False
        self._recovered("event store")
        self._gaps.difference_update(keys)
        repaired = 0
        for key, tracked in current.items():
            history = histories.get(key.decode(), [])
            repaired += self._fold_history(key, tracked, history, batch)
        if repaired:
            self.metrics.repairs.labels(reason).inc(repaired)
            log.info("%d tickets repaired from the event store (%s)", repaired, reason)
        return True

    def _fold_history(
        self, key: bytes, tracked: Tracked | None, history: list[Incoming], batch: _Batch
    ) -> bool:
        """Fold stored events into a ticket's state; True when it changed."""
        ticket = key.decode()
        partition = tracked.partition if tracked else partition_of(key, self.partitions)
        changed = False
        for event in history:
            policy = self.policies.get(event.policy)
            if policy is None:
                log.error("ticket %s: policy %s is not loaded; not repaired", ticket, event.policy)
                break
            try:
                applied = apply_event(tracked, event, ticket, partition, policy)
            except Exception as exc:
                # The store has it, so the ticket is past it: a version-only step (as the
                # core does for events without clock effect), or the ticket lags forever.
                log.error("ticket %s: stored event %d refused: %s", ticket, event.sequence, exc)
                if tracked is None or tracked.sla is None:
                    break
                tracked = replace(tracked, sla=replace(tracked.sla, version=event.sequence))
                batch.changed[key], changed = tracked, True
                continue
            if applied.outcome == "duplicate":
                continue
            tracked, changed = applied.tracked, True
            batch.changed[key] = tracked
            batch.out.extend(self._records(applied, batch.emitted_at))
        if tracked is not None and tracked.held:
            # Held events the store does not have (forged or from another store) are dropped.
            log.error(
                "ticket %s: %d held events are not in the event store", ticket, len(tracked.held)
            )
            batch.changed[key] = replace(tracked, held=())
        return changed

    async def repair_gaps(self) -> None:
        """Retry the repairs the store could not serve before (called by the timer loop)."""
        if not self._gaps:
            return
        async with self._lock:
            batch = _Batch(self.now())
            await self._repair_many(list(self._gaps), batch, "gap")
            await self._commit(batch)

    # --- writing effects ---------------------------------------------------------------------

    async def _commit(self, batch: _Batch) -> None:
        """Encode, publish the effects, then write the states and their changelog."""
        encoded = self._encode(batch)
        await self._publish(batch.out)
        changelog = []
        for key, (tracked, raw) in encoded.items():
            self.store.remember(key, raw)
            changelog.append(OutRecord(self.state_topic, key, raw, partition=tracked.partition))
            self._cache(key, tracked)
            due = tracked.next_due
            self.timers.schedule(key, tracked.partition, due.timestamp() if due else None)
        await self._publish(changelog)
        self._count(batch.out)

    def _encode(self, batch: _Batch) -> dict[bytes, tuple[Tracked, bytes]]:
        """Encode every changed state; a ticket whose state cannot be encoded loses this
        turn's effects and its events go to the dead-letter topic (its neighbours are kept)."""
        encoded: dict[bytes, tuple[Tracked, bytes]] = {}
        refused: set[bytes] = set()
        for key, tracked in batch.changed.items():
            try:
                encoded[key] = (tracked, state_codec.encode(tracked))
            except (TypeError, ValueError, OverflowError) as exc:
                log.error("ticket %s: state cannot be encoded: %s", key.decode(), exc)
                refused.add(key)
        if refused:
            batch.out[:] = [
                record
                for record in batch.out
                if not (
                    record.key in refused
                    and record.topic in (SLA_EVENTS.name, TICKET_COMMANDS.name)
                )
            ]
            for key in refused:
                for message in batch.sources.get(key, ()):
                    batch.out.append(
                        dead_letter(message, "the resulting state cannot be stored", "error")
                    )
        return encoded

    async def _publish(self, records: list[OutRecord]) -> None:
        """Publish, retrying with backoff until the broker acknowledges (never gives up: the
        offsets of these events must not be committed before their effects are out)."""
        await self._until_done("broker", lambda: self.publisher.publish(records))

    async def _until_done(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt` until it succeeds, backing off between failures; one log line when
        `what` becomes unavailable and one when it is back."""
        delay = RETRY_FIRST_S
        while True:
            try:
                result = await attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._recovered(what)
            return result

    def _failed(self, what: str, exc: BaseException) -> None:
        if what not in self._failing:
            self._failing.add(what)
            log.error("%s unavailable (%s: %s); retrying", what, type(exc).__name__, exc)

    def _recovered(self, what: str) -> None:
        if what in self._failing:
            self._failing.discard(what)
            log.info("%s reachable again", what)

    def _cache(self, key: bytes, tracked: Tracked) -> None:
        decoded = self._decoded
        decoded.pop(key, None)
        decoded[key] = tracked
        if len(decoded) > DECODED_CACHE:
            del decoded[next(iter(decoded))]

    def _records(
        self, applied: Applied, emitted_at: datetime, provisional: bool = False
    ) -> list[OutRecord]:
        records = []
        key = applied.tracked.ticket_id.encode()
        for caused in applied.caused:
            event = sla_event(applied.tracked, caused, emitted_at)
            if provisional and event["type"] in PROVISIONAL_TYPES:
                event["data"] = {**event["data"], "provisional": True}
                self.metrics.provisional.labels(event["type"]).inc()
            headers = record_headers(event, SLA_SOURCE)
            records.append(OutRecord(SLA_EVENTS.name, key, orjson.dumps(event), headers))
            command = command_for(event)
            if command is not None:
                command_key, value = command.to_record()
                records.append(
                    OutRecord(TICKET_COMMANDS.name, command_key, value, command.headers())
                )
        return records

    def _count(self, out: list[OutRecord]) -> None:
        for record in out:
            kind = record.topic
            if record.topic == SLA_EVENTS.name:
                kind = dict(record.headers)["ce_type"].decode()
            self.metrics.emitted.labels(kind).inc()

    # --- timers ------------------------------------------------------------------------------

    async def run_timers(self) -> None:
        """Sleep until the earliest deadline; fire what the event store's horizon allows."""
        while True:
            self.timer_beat = time.monotonic()
            await self.ready.wait()
            await self.repair_gaps()
            head = self.timers.earliest()
            now = self.now().timestamp()
            if head is None or head > now:
                wait = IDLE_RECHECK_S if head is None else head - now
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

    async def _ask_store(
        self, tickets: list[str]
    ) -> tuple[float | None, Mapping[str, StoredVersionLike] | None]:
        """(horizon, versions of `tickets`): the horizon first, then the versions (see
        `event_store_truth`); (None, None) while the store cannot be read."""
        try:
            horizon = await self.truth.horizon()
            versions = await self.truth.versions(tickets)
        except Exception as exc:
            self._failed("event store", exc)
            return None, None
        self._recovered("event store")
        lag = self.now().timestamp() - horizon if horizon is not None else -1.0
        self.metrics.horizon_lag.set(lag)
        return horizon, versions

    async def fire_due_timers(self) -> int:
        """Fire due timers the event store's horizon has passed; return how many must wait."""
        async with self._lock:
            now = self.now()
            due = [
                item
                for item in self.timers.pop_due(now.timestamp(), TIMER_BATCH)
                if item[1] in self.assigned
            ]
            if not due:
                return 0
            horizon, versions = await self._ask_store([key.decode() for key, _, _ in due])
            batch = _Batch(now)
            blocked = 0
            lagging: list[bytes] = []
            for key, partition, _ in due:
                try:
                    verdict = self._decide(key, partition, horizon, versions, batch, lagging)
                except Exception:  # one ticket's defect must not lose the other timers
                    log.exception("ticket %s: timer failed; retried later", key.decode())
                    self.timers.schedule(key, partition, now.timestamp() + DEFECT_RETRY_S)
                    continue
                blocked += verdict
            if lagging:
                await self._repair_many(lagging, batch, "lagging")
            await self._commit(batch)
        return blocked

    def _decide(
        self,
        key: bytes,
        partition: int,
        horizon: float | None,
        versions: Mapping[str, StoredVersionLike] | None,
        batch: _Batch,
        lagging: list[bytes],
    ) -> int:
        """Fire one due ticket, or reschedule it; 1 when it waits for the store."""
        tracked = self._load(key)
        if tracked is None or tracked.next_due is None:
            return 0
        at = tracked.next_due.timestamp()  # the heap's time only orders the rechecks
        now_s = batch.emitted_at.timestamp()
        stored = versions.get(key.decode()) if versions is not None else None
        fire_at = eligible_at(at, stored.recorded_at if stored else None, self.settle_s)
        if fire_at > now_s:  # the settle window of a ticket logged late
            self.timers.schedule(key, partition, fire_at)
            return 0
        # The bound counts from when this deadline first waited here (not from the deadline
        # itself: a ticket logged, or consumed, long after its deadline gets its full wait).
        since = self._waiting.get(key)
        if since is None or since[0] != at:
            since = self._waiting[key] = (at, now_s)
        within_bound = now_s - since[1] <= self.max_delay_s
        behind = stored is not None and stored.version > tracked.version
        if behind and within_bound:
            # Events of this ticket not processed yet (lag, or lost): from the store, then
            # decided again on the next turn.
            if key not in self._gaps:
                lagging.append(key)
            self.timers.schedule(key, partition, now_s + BLOCKED_RECHECK_S)
            return 1
        mark = min(horizon, now_s) if horizon is not None else now_s
        confirmed = horizon is not None and stored is not None and not behind and fire_at < mark
        if not confirmed and within_bound:
            # Behind the horizon, or the store cannot say (down, or the ticket unknown to it):
            # wait. Rescheduled just after now, so other due tickets get their turn first.
            self.timers.schedule(key, partition, now_s + BLOCKED_RECHECK_S)
            return 1
        if not confirmed:  # only this timer: each later one waits out its own bound
            mark = min(now_s, at + PROVISIONAL_STEP_S)
            log.warning(
                "ticket %s: deadline held back %.0f s with no verdict from the event store; "
                "firing provisionally",
                key.decode(),
                now_s - since[1],
            )
        self._waiting.pop(key, None)
        applied = fire_due(
            tracked, self.policies[tracked.policy], datetime.fromtimestamp(mark, UTC)
        )
        if applied.outcome == "duplicate":  # nothing due before the mark yet
            self.timers.schedule(key, partition, now_s + BLOCKED_RECHECK_S)
            return 1
        batch.changed[key] = applied.tracked
        batch.out.extend(self._records(applied, batch.emitted_at, provisional=not confirmed))
        self._observe_lateness(applied, batch.emitted_at)
        return 0

    def _observe_lateness(self, applied: Applied, now: datetime) -> None:
        for caused in applied.caused:
            kind = caused.derived.type
            if kind in ("sla.breached", "sla.warning"):
                late = (now - caused.derived.at).total_seconds()
                self.metrics.lateness.labels(kind).observe(late)

    # --- rebalancing -------------------------------------------------------------------------

    def partitions_revoked(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        self.stop_reconciliation()
        self.ready.clear()
        self._waiting.clear()
        self.reconciled.clear()
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

    def start_reconciliation(self) -> None:
        """Reconcile in the background (the store may be down; recovery must not wait for it);
        a new assignment replaces a reconciliation still running, a revocation cancels it."""
        self.stop_reconciliation()
        self._reconciling = asyncio.ensure_future(self._reconcile_until_done())

    def timers_stuck(self, limit_s: float = TIMERS_STUCK_S) -> bool:
        """The timer loop has not gone round for `limit_s` (blocked behind a broker outage,
        or dead): `/readyz` says so."""
        return self.ready.is_set() and time.monotonic() - self.timer_beat > limit_s

    def stop_reconciliation(self) -> None:
        if self._reconciling is not None and not self._reconciling.done():
            self._reconciling.cancel()
        self._reconciling = None

    async def _reconcile_until_done(self) -> None:
        while True:
            try:
                await self.reconcile()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciliation with the event store failed; retrying")
                await asyncio.sleep(RETRY_MAX_S)

    async def _caught_up(self) -> None:
        """Wait (bounded) until the consumer reached the end of every assigned partition: what
        is still in the topic arrives by itself, so only what was lost gets repaired."""
        deadline = time.monotonic() + CATCH_UP_S
        while time.monotonic() < deadline:
            lags = [
                lag(
                    self.offsets.highwater(partition),
                    progress.next_offset if (progress := self.progress.get(partition)) else None,
                    self.offsets.committed(partition),
                )
                for partition in self.assigned
            ]
            if all(behind == 0 for behind in lags):
                return
            await asyncio.sleep(CATCH_UP_POLL_S)
        log.warning("consumer still behind after %.0f s; reconciling anyway", CATCH_UP_S)

    async def reconcile(self) -> None:
        """Compare every ticket of the assigned partitions with the event store and repair
        the ones behind it (a changelog write lost in a crash, a recovery cut short), once the
        consumer has caught up. Retries until the store answers; the worker is ready meanwhile
        (timers check the store anyway)."""
        await self._caught_up()
        started = time.monotonic()  # waits for an unavailable store count in both figures
        stored = await self._until_done("event store", self.truth.all_versions)
        scanned = time.monotonic() - started
        assigned = set(self.assigned)
        behind = []
        get = self.store.get
        for ticket, version in stored.items():
            key = ticket.encode()
            raw = get(key)
            if raw is None:  # the local table holds only assigned partitions' tickets
                if partition_of(key, self.partitions) in assigned:
                    behind.append(key)
            elif state_codec.version_of(raw) < version:
                behind.append(key)
        for first in range(0, len(behind), RECONCILE_CHUNK):
            chunk = behind[first : first + RECONCILE_CHUNK]
            # Chunks under the lock: ticket events and timers get in between; a store outage
            # is waited out with the lock released.
            while True:
                async with self._lock:
                    batch = _Batch(self.now())
                    done = await self._repair_many(chunk, batch, "reconciliation")
                    if done:
                        self._gaps.difference_update(chunk)
                        await self._commit(batch)
                if done:
                    break
                await asyncio.sleep(RETRY_MAX_S)
        self.last_reconciliation = {
            "tickets": len(stored),
            "repaired": len(behind),
            "scan_seconds": round(scanned, 4),
            "seconds": round(time.monotonic() - started, 4),
        }
        self.metrics.reconciliation.set(time.monotonic() - started)
        log.info(
            "reconciled partitions %s with the event store: %d tickets in the store, %d repaired "
            "(%.2f s)",
            sorted(assigned),
            len(stored),
            len(behind),
            time.monotonic() - started,
        )
        self.reconciled.set()


def dead_letter(message: RawMessage, error: str, reason: str) -> OutRecord:
    """The original record to `<topic>.dlq`, with the error and where it came from in headers.

    A value too large to go out again beside the headers (the producer refuses a request over
    1 MiB, and a refused dead letter would be retried forever) is cut to DLQ_MAX_VALUE bytes,
    its full size in `dlq_truncated_from`; the source offset still finds the original."""
    headers = dlq_headers(message, error, reason, "sla")
    value = message.value or b""
    if len(value) > DLQ_MAX_VALUE:
        headers.append(("dlq_truncated_from", str(len(value)).encode()))
        value = value[:DLQ_MAX_VALUE]
    log.error(
        "dead-lettered %s[%d]@%d (%s): %s",
        message.topic,
        message.partition,
        message.offset,
        reason,
        error[:300],
    )
    return OutRecord(f"{message.topic}.dlq", (message.key or b"")[:DLQ_MAX_KEY], value, headers)
