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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.intake.adapters.event_store import NOTIFY_CHANNEL
from shared.events.codec import stored_to_kafka

log = logging.getLogger("ticketflow.intake.relay")
RELAY_LOCK = 724002

Send = Callable[[str, bytes, bytes, list[tuple[str, bytes]]], Awaitable[Any]]


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    lag_events: int = 0
    lag_seconds: float = 0.0


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        send: Send,
        topic: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._send = send
        self._topic = topic
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self.stats = RelayStats()

    async def drain_once(self) -> int:
        """Publish one batch of unpublished events; return how many."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT o.id, e.envelope, e.recorded_at FROM outbox o "
                "JOIN events e ON e.event_id = o.event_id "
                "WHERE o.published_at IS NULL ORDER BY o.ticket_id, o.version LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            pending = []
            for row in rows:
                record = stored_to_kafka(orjson.loads(row["envelope"]), row["recorded_at"])
                pending.append(
                    await self._send(self._topic, record.key, record.value, list(record.headers))
                )
            await asyncio.gather(*pending)
            await conn.execute(
                "UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        self.stats.published += len(rows)
        self.stats.batches += 1
        return len(rows)

    async def measure_lag(self) -> RelayStats:
        row = await self._pool.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM clock_timestamp() - "
            "min(created_at)), 0) AS age FROM outbox WHERE published_at IS NULL"
        )
        if row is not None:
            self.stats.lag_events = int(row["n"])
            self.stats.lag_seconds = float(row["age"])
        return self.stats

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    def wake(self) -> None:
        """In-process wake-up (a writer in this process just committed)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set. Holds the relay lock for as long as it runs."""
        listener = await self._pool.acquire()
        try:
            while not await listener.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
                log.info("another relay holds the outbox; standing by")
                if await _wait(stop, self._poll_interval * 5):
                    return
            await listener.add_listener(NOTIFY_CHANNEL, self._notified)
            log.info("outbox relay draining to %s", self._topic)
            while not stop.is_set():
                self._wake.clear()
                try:
                    while await self.drain_once() == self._batch_size:
                        pass
                except Exception:  # keep relaying: the next pass retries the same rows
                    log.exception("outbox publish failed; retrying")
                    await _wait(stop, self._poll_interval)
                    continue
                waker = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait(
                    {waker, stopper},
                    timeout=self._poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waker.cancel()
                stopper.cancel()
        finally:
            await listener.remove_listener(NOTIFY_CHANNEL, self._notified)
            await listener.execute("SELECT pg_advisory_unlock_all()")
            await self._pool.release(listener)


class Notifier:
    """Coalesces "outbox has rows" pokes into at most one NOTIFY per `interval`."""

    def __init__(self, pool: asyncpg.Pool, interval: float = 0.005) -> None:
        self._pool = pool
        self._interval = interval
        self._poked = asyncio.Event()

    def poke(self) -> None:
        self._poked.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            poked = asyncio.ensure_future(self._poked.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poked, stopper}, return_when=asyncio.FIRST_COMPLETED)
            poked.cancel()
            stopper.cancel()
            if self._poked.is_set():
                self._poked.clear()
                try:
                    await self._pool.execute(f"NOTIFY {NOTIFY_CHANNEL}")
                except (OSError, asyncpg.PostgresError):
                    log.warning("NOTIFY failed; the relay's polling will pick the rows up")
                await asyncio.sleep(self._interval)


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


__all__ = ["OutboxRelay", "RelayStats", "kafka_sender"]
