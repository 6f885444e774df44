"""Drains the outbox to Kafka in per-ticket order, at least once.

- Woken by LISTEN/NOTIFY for latency, with polling as the fallback (a lost notification or a
  dropped listen connection only costs one poll interval). Writers call `Notifier.poke()`
  after commit; the notifier sends at most one NOTIFY per interval, outside the writers'
  transactions (PostgreSQL serialises the commits of transactions that NOTIFY). A relay in
  the same process is also woken directly.
- One relay drains at a time (a session advisory lock), so two replicas never interleave one
  ticket's versions.
- Rows are selected by "not yet published", not by an id high-water mark, so a transaction
  that commits after a later-numbered one is still published; per ticket, version n+1 can only
  be written after version n committed (the ticket row lock), so it is never seen first.
- Publish, then mark: a crash in between republishes; consumers dedup by event id.
- Outages: a database or broker failure (also at start, before the first connection) is
  retried with capped exponential backoff, forever, logged when it starts and when it ends
  (`services.common.retrying.Outage`); meanwhile the supervised task is failing, so
  `/readyz` says the relay is not working.
- A record the broker will never take (`produce_errors.refuses_record`, or a stored envelope
  that cannot be encoded) is quarantined (`quarantine.py`): its neighbours in the batch are
  published, and its ticket's later events stay in the outbox until the entry is retried or
  dropped. A refusal that comes back on the delivery future (from the broker, for a whole
  producer batch) is tried again one record at a time, so only the refused record is blamed;
  a later event of its ticket that went out in another, accepted producer batch is already on
  the topic then, and consumers see the gap in `ce_sequence` (filled from the event store).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from services.common import health, tracing
from services.common.backoff import Backoff
from services.common.retrying import Outage
from services.intake.adapters import quarantine
from services.intake.adapters.event_store import NOTIFY_CHANNEL
from services.intake.adapters.produce_errors import UNENCODABLE, describe, refuses_record
from shared.events.codec import KafkaRecord, stored_to_kafka

log = logging.getLogger("ticketflow.intake.relay")
RELAY_LOCK = 724002

Send = Callable[[str, bytes, bytes, list[tuple[str, bytes]]], Awaitable[Any]]

PENDING = (
    "SELECT o.id, o.ticket_id, o.version, o.event_id, e.envelope, e.recorded_at FROM outbox o "
    "JOIN events e ON e.event_id = o.event_id "
    f"WHERE o.published_at IS NULL AND NOT EXISTS ({quarantine.OPEN_FOR_TICKET}) "
    "ORDER BY o.ticket_id, o.version LIMIT $1"
)
LAG = (
    "SELECT count(*) AS n, coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) "
    "AS age, count(*) FILTER (WHERE EXISTS ("
    + quarantine.OPEN_FOR_TICKET
    + ")) AS held, (SELECT count(*) FROM outbox_quarantine WHERE resolved_at IS NULL) AS open "
    "FROM outbox o WHERE published_at IS NULL"
)


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    lag_events: int = 0
    lag_seconds: float = 0.0
    quarantined: int = 0
    """Records quarantined by this relay since it started."""
    quarantine_open: int = 0
    held_events: int = 0
    """Unpublished events of tickets with an open quarantine entry (the entry included)."""


class ListenerLost(ConnectionError):
    """The connection holding the relay lock and the LISTEN closed."""


@dataclass
class _Batch:
    """What one drain pass did with its rows."""

    published: list[int] = field(default_factory=list)
    refused: list[tuple[asyncpg.Record, BaseException, int | None]] = field(default_factory=list)
    error: BaseException | None = None
    """A failure that is not a record's fault (broker down): the batch is sent again."""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        send: Send,
        topic: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._pool = pool
        self._send = send
        self._topic = topic
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self.outage = Outage("outbox relay", log, backoff)
        """The failure episode the relay is retrying through, if any."""
        self._wake = asyncio.Event()
        self._listener_lost = False
        self.stats = RelayStats()

    async def drain_once(self) -> int:
        """Publish one batch of unpublished events; return how many outbox rows it read
        (published, quarantined, or held behind a record of their ticket quarantined now).
        Raises when the broker or the database failed; then nothing of the batch is marked,
        and the next pass sends it again."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(PENDING, self._batch_size)
            if not rows:
                return 0
            batch = await self._publish(rows)
            if batch.error is not None:  # retried whole: at least once, consumers dedup
                raise batch.error
            if batch.published:
                await conn.execute(
                    "UPDATE outbox SET published_at = clock_timestamp() "
                    "WHERE id = ANY($1::bigint[])",
                    batch.published,
                )
            for row, error, size in batch.refused:
                await self._quarantine(conn, row, error, size)
        self.stats.published += len(batch.published)
        self.stats.batches += 1
        return len(rows)

    async def _publish(self, rows: list[asyncpg.Record]) -> _Batch:
        """Send every row, the ones of a ticket in version order; nothing of a ticket after
        one of its records was refused."""
        batch = _Batch()
        blocked: set[uuid.UUID] = set()
        sent: list[tuple[asyncpg.Record, Any, int]] = []
        for row in rows:
            if row["ticket_id"] in blocked:
                continue
            try:
                record = _record_of(row, self._topic)
            except UNENCODABLE as unencodable:
                batch.refused.append((row, unencodable, None))
                blocked.add(row["ticket_id"])
                continue
            size = len(record.key) + len(record.value)
            try:
                delivery = await self._send(
                    self._topic, record.key, record.value, list(record.headers)
                )
            except Exception as error:
                if not refuses_record(error):
                    batch.error = error
                    break
                batch.refused.append((row, error, size))
                blocked.add(row["ticket_id"])
                continue
            sent.append((row, delivery, size))
        outcomes = await asyncio.gather(
            *(delivery for _, delivery, _ in sent), return_exceptions=True
        )
        suspects: list[tuple[asyncpg.Record, int]] = []
        for (row, _, size), outcome in zip(sent, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                batch.published.append(row["id"])
            elif refuses_record(outcome):
                suspects.append((row, size))
            elif batch.error is None:
                batch.error = outcome
        if suspects and batch.error is None:
            await self._send_alone(suspects, batch, blocked)
        return batch

    async def _send_alone(
        self, suspects: list[tuple[asyncpg.Record, int]], batch: _Batch, blocked: set[uuid.UUID]
    ) -> None:
        """Records whose producer batch the broker refused, one at a time: the refused one is
        quarantined, its batch mates are published."""
        for row, size in suspects:
            if row["ticket_id"] in blocked:
                continue
            record = _record_of(row, self._topic)
            try:
                await (
                    await self._send(self._topic, record.key, record.value, list(record.headers))
                )
            except Exception as error:
                if not refuses_record(error):
                    batch.error = error
                    return
                batch.refused.append((row, error, size))
                blocked.add(row["ticket_id"])
                continue
            batch.published.append(row["id"])

    async def _quarantine(
        self, conn: asyncpg.Connection, row: asyncpg.Record, error: BaseException, size: int | None
    ) -> None:
        error_type, message = describe(error)
        if await quarantine.add(conn, row, error_type, message, size):
            self.stats.quarantined += 1
            log.error(
                "outbox record %s (ticket %s version %s, %s bytes) quarantined: %s: %s; the "
                "ticket's later events are held until `ticketflow intake quarantine retry` "
                "or `drop`",
                row["id"],
                row["ticket_id"],
                row["version"],
                size if size is not None else "?",
                error_type,
                message,
            )

    async def measure_lag(self) -> RelayStats:
        row = await self._pool.fetchrow(LAG)
        if row is not None:
            self.stats.lag_events = int(row["n"])
            self.stats.lag_seconds = float(row["age"])
            self.stats.held_events = int(row["held"])
            self.stats.quarantine_open = int(row["open"])
        return self.stats

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    def _lost(self, *_args: object) -> None:
        self._listener_lost = True
        self._wake.set()

    def wake(self) -> None:
        """In-process wake-up (a writer in this process just committed)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set, through database and broker outages: every failure,
        the first connection included, is retried after a capped exponential backoff."""
        while not stop.is_set():
            try:
                await self._hold_lock_and_drain(stop)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if await _wait(stop, self.outage.failed(error)):
                    return

    async def _hold_lock_and_drain(self, stop: asyncio.Event) -> None:
        """One session: take the relay lock on a connection of its own, LISTEN on it, and
        drain until `stop` or until anything fails (the caller backs off and starts over)."""
        listener = await self._pool.acquire()
        self._listener_lost = False
        listener.add_termination_listener(self._lost)
        try:
            while not await listener.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
                log.info("another relay holds the outbox; standing by")
                self.outage.succeeded()
                if await _wait(stop, self._poll_interval * 5):
                    return
            await listener.add_listener(NOTIFY_CHANNEL, self._notified)
            log.info("outbox relay draining to %s", self._topic)
            while not stop.is_set():
                self._wake.clear()
                while await self.drain_once() == self._batch_size:
                    health.beat()
                if self._listener_lost:
                    raise ListenerLost("the relay's listen connection closed")
                self.outage.succeeded()  # and a heartbeat
                await self._idle(stop)
        finally:
            listener.remove_termination_listener(self._lost)
            await _release(self._pool, listener, self._notified)

    async def _idle(self, stop: asyncio.Event) -> None:
        waker = asyncio.ensure_future(self._wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            {waker, stopper}, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
        waker.cancel()
        stopper.cancel()


async def _release(
    pool: asyncpg.Pool, listener: asyncpg.Connection, notified: Callable[..., None]
) -> None:
    """Give the listen connection back without its listener and lock; a connection that
    died with the database is thrown away instead."""
    try:
        await listener.remove_listener(NOTIFY_CHANNEL, notified)
        await listener.execute("SELECT pg_advisory_unlock_all()")
        await pool.release(listener)
    except Exception:
        listener.terminate()
        try:
            await pool.release(listener)
        except Exception as error:
            log.debug("dropping the relay's dead listen connection: %s", error)


class Notifier:
    """Coalesces "outbox has rows" pokes into at most one NOTIFY per `interval`. A failed
    NOTIFY is only logged: the relay's polling picks the rows up."""

    def __init__(self, pool: asyncpg.Pool, interval: float = 0.005) -> None:
        self._pool = pool
        self._interval = interval
        self._poked = asyncio.Event()

    def poke(self) -> None:
        self._poked.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            health.beat()
            poked = asyncio.ensure_future(self._poked.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poked, stopper}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            poked.cancel()
            stopper.cancel()
            if self._poked.is_set():
                self._poked.clear()
                try:
                    await self._pool.execute(f"NOTIFY {NOTIFY_CHANNEL}")
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    log.warning(
                        "NOTIFY failed (%s); the relay's polling will pick the rows up", error
                    )
                await asyncio.sleep(self._interval)


def _record_of(row: asyncpg.Record, topic: str) -> KafkaRecord:
    """The Kafka record of an outbox row's event. Traced, it is published in a span of its
    own (a child of the request that stored it) whose context the record carries on."""
    stored = orjson.loads(row["envelope"])
    if not tracing.enabled():
        return stored_to_kafka(stored, row["recorded_at"])
    parent = tracing.context_of(stored.get("traceparent"), stored.get("tracestate"))
    attributes = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": "publish",
        "ticketflow.ticket_id": stored.get("subject"),
        "ticketflow.event_id": stored.get("id"),
        "ticketflow.event_type": stored.get("type"),
    }
    with tracing.span(
        f"{topic} publish", parent=parent, kind=tracing.SpanKind.PRODUCER, attributes=attributes
    ):
        stored.update(tracing.current())
        return stored_to_kafka(stored, row["recorded_at"])


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except TimeoutError:
        return False


def kafka_sender(producer: Any) -> Send:
    """Adapt an AIOKafkaProducer: `send` enqueues and returns the delivery future."""

    async def send(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        return await producer.send(topic, value, key=key, headers=headers)

    return send


__all__ = ["Notifier", "OutboxRelay", "RelayStats", "kafka_sender"]
