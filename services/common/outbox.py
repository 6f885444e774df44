"""A transactional outbox for services that publish records as the effect of a transaction
(escalation events, notification outcomes): the record is written with the state change and
published afterwards, in id order, at least once (consumers dedup by the record's id).

One publisher per service drains at a time (advisory lock), so records keep their order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

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
        orjson.dumps([["ce_type", event_type]]).decode(),
    )


async def append_many(
    conn: asyncpg.Connection,
    service: str,
    topic: str,
    records: list[tuple[str, dict[str, Any], str]],
) -> None:
    """Queue many JSON records `(key, value, type)` in one statement."""
    if not records:
        return
    await conn.execute(
        "INSERT INTO service_outbox (service, topic, key, value, headers) "
        "SELECT $1, $2, k, v, h::jsonb FROM unnest($3::bytea[], $4::bytea[], $5::text[]) "
        "AS r(k, v, h)",
        service,
        topic,
        [key.encode() for key, _, _ in records],
        [orjson.dumps(value) for _, value, _ in records],
        [orjson.dumps([["ce_type", kind]]).decode() for _, _, kind in records],
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

    async def drain_once(self) -> int:
        async with self._pool.acquire() as conn:
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
        holder = await self._pool.acquire()
        try:
            while not await holder.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_id):
                if await wait_for_either(stop, None, self._poll_interval * 5):
                    return
            log.info("%s outbox publisher running", self._service)
            while not stop.is_set():
                self._wake.clear()
                try:
                    while await self.drain_once() == self._batch_size:
                        pass
                except Exception:  # the next pass retries the same rows
                    log.exception("%s outbox publish failed; retrying", self._service)
                await wait_for_either(stop, self._wake, self._poll_interval)
        finally:
            await holder.execute("SELECT pg_advisory_unlock_all()")
            await self._pool.release(holder)


async def wait_for_either(
    stop: asyncio.Event, wake: asyncio.Event | None, timeout: float | None
) -> bool:
    """Wait until `stop` or `wake` is set or `timeout` passes; True when `stop` is set."""
    waiters = {asyncio.ensure_future(stop.wait())}
    if wake is not None:
        waiters.add(asyncio.ensure_future(wake.wait()))
    await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    return stop.is_set()


def kafka_send(producer: Any) -> Send:
    """Adapt an AIOKafkaProducer: enqueue and return the delivery future."""

    async def send(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        return await producer.send(topic, value, key=key, headers=headers)

    return send
