"""A transactional outbox for services that publish records as the effect of a transaction
(escalation events, notification outcomes): the record is written with the state change and
published afterwards, in id order, at least once (consumers dedup by the record's id).

One publisher per service drains at a time (advisory lock, held on a connection of its own),
so records keep their order. A database or broker outage, at start or later, ends the
publisher's session: it lets go of its lock connection, waits with backoff and starts over,
so it never publishes without holding the lock and never loses a row (rows are marked
published only after the broker acknowledged them)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from services.common import health, tracing
from services.common.retrying import Outage
from services.common.waiting import wait_for_either
from shared.events.published import record_headers

__all__ = ["OutboxPublisher", "append", "append_many", "kafka_send", "pending", "wait_for_either"]

log = logging.getLogger("ticketflow.outbox")

OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS service_outbox (
    id           bigserial PRIMARY KEY,
    service      text NOT NULL,
    topic        text NOT NULL,
    key          bytea NOT NULL,
    value        bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS service_outbox_pending ON service_outbox (service, id)
    WHERE published_at IS NULL;
"""

Send = Callable[[str, bytes, bytes, list[tuple[str, bytes]]], Awaitable[Any]]


def _headers_json(
    service: str,
    key: str,
    value: dict[str, Any],
    event_type: str,
    trace: dict[str, str] | None = None,
) -> str:
    """The record's CloudEvents headers, as the JSON the outbox row stores: the subject is
    the record key (the ticket id) unless the value names its ticket; the trace it was made
    in rides along as `ce_traceparent`."""
    headers = record_headers(
        {"ticket_id": key, **value, "type": event_type},
        service,
        queued_at=datetime.now(UTC),
        trace=tracing.current() if trace is None else trace,
    )
    return orjson.dumps([[name, raw.decode()] for name, raw in headers]).decode()


async def append(
    conn: asyncpg.Connection,
    service: str,
    topic: str,
    key: str,
    value: dict[str, Any],
    event_type: str,
) -> None:
    """Queue one JSON record (inside the caller's transaction)."""
    await conn.execute(
        "INSERT INTO service_outbox (service, topic, key, value, headers) "
        "VALUES ($1, $2, $3, $4, $5::jsonb)",
        service,
        topic,
        key.encode(),
        orjson.dumps(value),
        _headers_json(service, key, value, event_type),
    )


async def append_many(
    conn: asyncpg.Connection,
    service: str,
    topic: str,
    records: list[tuple[str, dict[str, Any], str]],
    traces: list[dict[str, str]] | None = None,
) -> None:
    """Queue many JSON records `(key, value, type)` in one statement; `traces`: the trace
    context of each (default: the current one for all)."""
    if not records:
        return
    contexts = traces if traces is not None else [tracing.current()] * len(records)
    await conn.execute(
        "INSERT INTO service_outbox (service, topic, key, value, headers) "
        "SELECT $1, $2, k, v, h::jsonb FROM unnest($3::bytea[], $4::bytea[], $5::text[]) "
        "AS r(k, v, h)",
        service,
        topic,
        [key.encode() for key, _, _ in records],
        [orjson.dumps(value) for _, value, _ in records],
        [
            _headers_json(service, key, value, kind, trace)
            for (key, value, kind), trace in zip(records, contexts, strict=True)
        ],
    )


async def pending(pool: asyncpg.Pool, service: str) -> int:
    """Records of `service` not published yet."""
    count: int = await pool.fetchval(
        "SELECT count(*) FROM service_outbox WHERE service = $1 AND published_at IS NULL",
        service,
    )
    return count


class OutboxPublisher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        service: str,
        send: Send,
        lock_id: int,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._service = service
        self._send = send
        self._lock_id = lock_id
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """A writer in this process just committed records."""
        self._wake.set()

    async def drain_once(self, conn: asyncpg.Connection | None = None) -> int:
        """Publish one batch (on `conn`, or a connection of the pool); the number published."""
        if conn is not None:
            return await self._drain_on(conn)
        async with self._pool.acquire() as pooled:
            return await self._drain_on(pooled)

    async def _drain_on(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM service_outbox "
            "WHERE service = $1 AND published_at IS NULL ORDER BY id LIMIT $2",
            self._service,
            self._batch_size,
        )
        if not rows:
            return 0
        pending = [
            await self._send(
                row["topic"],
                bytes(row["key"]),
                bytes(row["value"]),
                [(name, value.encode()) for name, value in orjson.loads(row["headers"])],
            )
            for row in rows
        ]
        await asyncio.gather(*pending)
        await conn.execute(
            "UPDATE service_outbox SET published_at = clock_timestamp() "
            "WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        self.published += len(rows)
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop`, through outages: each failure ends the session (lock
        released with its connection) and the next one starts after a backoff delay."""
        outage = Outage(f"{self._service} outbox publisher", log)
        while not stop.is_set():
            try:
                await self._session(stop, outage)
            except Exception as exc:
                if await wait_for_either(stop, None, outage.failed(exc)):
                    return

    async def _session(self, stop: asyncio.Event, outage: Outage) -> None:
        """Take the lock, then drain on the lock's own connection: if that connection is
        lost, so is the lock, and the drain fails instead of publishing without it."""
        holder = await self._pool.acquire()
        try:
            while not await holder.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_id):
                outage.succeeded()
                if await wait_for_either(stop, None, self._poll_interval * 5):
                    return
            log.info("%s outbox publisher running", self._service)
            while not stop.is_set():
                self._wake.clear()
                while await self.drain_once(holder) == self._batch_size:
                    health.beat()
                outage.succeeded()
                await wait_for_either(stop, self._wake, self._poll_interval)
        finally:
            await _let_go(self._pool, holder)


async def _let_go(pool: asyncpg.Pool, holder: asyncpg.Connection) -> None:
    """Release the lock connection; one that fails to unlock is closed (which unlocks)."""
    try:
        await holder.execute("SELECT pg_advisory_unlock_all()")
    except Exception:
        holder.terminate()
    try:
        await pool.release(holder)
    except Exception:
        log.debug("lock connection released after an error", exc_info=True)


def kafka_send(producer: Any) -> Send:
    """Adapt an AIOKafkaProducer: enqueue and return the delivery future."""

    async def send(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        return await producer.send(topic, value, key=key, headers=headers)

    return send
