"""What every long-running service wires the same way: its pool, migrations, the Kafka
producer and consumer, the readiness check, and the set of background tasks it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.kafka_security import kafka_kwargs
from services.common.migrations import apply_migrations
from services.common.outbox import OUTBOX_DDL
from services.common.tracking import TRACKING_DDL

log = logging.getLogger("ticketflow.runtime")


def broker_reachable(bootstrap_servers: str) -> bool:
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


async def migrate_service(pool: asyncpg.Pool, package: str, lock_id: int) -> list[str]:
    """The shared tables (tracking rows, outbox) and the service's own migrations."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
        try:
            await conn.execute(TRACKING_DDL + OUTBOX_DDL)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
    return await apply_migrations(pool, package, lock_id)


def readiness_check(
    pool: asyncpg.Pool, bootstrap_servers: str
) -> Callable[[], Awaitable[dict[str, bool]]]:
    async def check() -> dict[str, bool]:
        try:
            database = await pool.fetchval("SELECT 1") == 1
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            database = False
        broker = await asyncio.to_thread(broker_reachable, bootstrap_servers)
        return {"database": database, "broker": broker}

    return check


@dataclass
class Runtime:
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    bootstrap_servers: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    consumers: list[AIOKafkaConsumer] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run after the tasks stopped (clients the tasks use)."""

    def spawn(self, run: Callable[[asyncio.Event], Awaitable[None]], name: str) -> None:
        self.tasks.append(asyncio.create_task(_logged(run(self.stop), name), name=name))

    async def consumer(self, topics: Sequence[str], group_id: str) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_kwargs(),
        )
        await consumer.start()
        self.consumers.append(consumer)
        return consumer


async def _logged(work: Awaitable[None], name: str) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s stopped with an error", name)
        raise


@contextlib.asynccontextmanager
async def running(
    database_url: str, bootstrap_servers: str, *, pool_size: int = 10
) -> AsyncIterator[Runtime]:
    """Open the pool and producer; on exit stop the tasks, consumers, producer and pool."""
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=pool_size)
    assert pool is not None
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", linger_ms=2, **kafka_kwargs()
    )
    await producer.start()
    runtime = Runtime(pool, producer, bootstrap_servers)
    try:
        yield runtime
    finally:
        runtime.stop.set()
        await asyncio.gather(*runtime.tasks, return_exceptions=True)
        for close in runtime.closers:
            await close()
        for consumer in runtime.consumers:
            await consumer.stop()
        await producer.stop()
        await pool.close()
