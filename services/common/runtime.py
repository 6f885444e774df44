"""What every long-running service wires the same way: its pool, migrations, the Kafka
producer and consumer, the readiness check, and the set of background tasks it runs.

Starting while PostgreSQL or the broker is down waits for them (backoff, one log line when
the wait starts and one when it ends) instead of crashing; background tasks are supervised
(`services.common.supervision`) and their health is kept in `Runtime.health`."""

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

from services.common.backoff import Backoff
from services.common.health import TaskHealth, TaskRegistry
from services.common.kafka_security import kafka_kwargs
from services.common.migrations import apply_migrations
from services.common.outbox import OUTBOX_DDL
from services.common.retrying import retry_until_done
from services.common.supervision import Run, supervise
from services.common.tracking import TRACKING_DDL

log = logging.getLogger("ticketflow.runtime")

Reset = Callable[[asyncpg.Connection], Awaitable[None]]
"""What the pool runs on a connection it takes back (asyncpg's `reset`)."""


def broker_reachable(bootstrap_servers: str) -> bool:
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


SHARED_TABLES_LOCK = 724000
"""The advisory lock every service takes to create the tables they share: `CREATE TABLE IF
NOT EXISTS` of one table by two sessions at once can still fail (`pg_type` unique violation),
and the services start together (the dev stack starts six on a fresh database)."""


async def migrate_service(pool: asyncpg.Pool, package: str, lock_id: int) -> list[str]:
    """The shared tables (tracking rows, outbox) and the service's own migrations."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", SHARED_TABLES_LOCK)
        try:
            await conn.execute(TRACKING_DDL + OUTBOX_DDL)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", SHARED_TABLES_LOCK)
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


async def migrate_until_done(pool: asyncpg.Pool, package: str, lock_id: int) -> list[str]:
    """`migrate_service`, waiting (with backoff) while the database is unreachable."""
    return await retry_until_done(
        lambda: migrate_service(pool, package, lock_id), f"{package} migrations", log
    )


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
    health: TaskRegistry = field(default_factory=TaskRegistry)
    """Every spawned task's health, for `/readyz`."""
    backoff: Callable[[], Backoff] = Backoff
    """A fresh backoff for each wait: restarting a task, starting a consumer."""

    def spawn(self, run: Run, name: str) -> TaskHealth:
        """Run `run(stop)` in the background, supervised: restarted with backoff when it
        dies, its health recorded under `name`."""
        task = self.health.register(name)
        supervised = supervise(run, self.stop, task, backoff=self.backoff())
        self.tasks.append(asyncio.create_task(supervised, name=name))
        return task

    async def consumer(self, topics: Sequence[str], group_id: str) -> AIOKafkaConsumer:
        """A started consumer of `topics` (waits with backoff while the broker is down)."""

        async def start() -> AIOKafkaConsumer:
            consumer = AIOKafkaConsumer(
                *topics,
                bootstrap_servers=self.bootstrap_servers,
                group_id=group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **kafka_kwargs(),
            )
            await _started(consumer)
            return consumer

        consumer = await retry_until_done(
            start, f"Kafka consumer {group_id}", log, backoff=self.backoff()
        )
        self.consumers.append(consumer)
        return consumer


async def _started(client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    try:
        await client.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.stop()
        raise


async def open_pool(
    database_url: str,
    *,
    pool_size: int = 10,
    min_size: int = 2,
    reset: Reset | None = None,
    backoff: Backoff | None = None,
) -> asyncpg.Pool:
    """A connection pool, waiting (with backoff) while PostgreSQL does not answer."""

    async def connect() -> asyncpg.Pool:
        pending = asyncpg.create_pool(
            database_url, min_size=min_size, max_size=pool_size, reset=reset
        )
        try:
            pool: asyncpg.Pool = await pending
        except BaseException:
            with contextlib.suppress(Exception):
                pending.terminate()
            raise
        return pool

    return await retry_until_done(connect, "PostgreSQL connection pool", log, backoff=backoff)


async def start_producer(
    bootstrap_servers: str,
    *,
    max_request_size: int = 1_048_576,
    backoff: Backoff | None = None,
) -> AIOKafkaProducer:
    """A started producer (acks=all), waiting (with backoff) while the broker is down; it
    refuses a record over `max_request_size` bytes (keep it at or below the topics'
    `max.message.bytes`)."""

    async def start() -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            linger_ms=2,
            max_request_size=max_request_size,
            **kafka_kwargs(),
        )
        await _started(producer)
        return producer

    return await retry_until_done(start, "Kafka producer", log, backoff=backoff)


@contextlib.asynccontextmanager
async def running(
    database_url: str,
    bootstrap_servers: str,
    *,
    pool_size: int = 10,
    pool_min_size: int = 2,
    pool_reset: Reset | None = None,
    max_request_size: int = 1_048_576,
    backoff: Callable[[], Backoff] = Backoff,
    stuck_after_s: float = 60.0,
    shutdown_grace_s: float = 15.0,
) -> AsyncIterator[Runtime]:
    """Open the pool and producer; on exit stop the tasks, consumers, producer and pool.

    Every wait (for PostgreSQL or the broker at start, before restarting a task) takes a
    fresh `backoff()`. A task without a heartbeat for `stuck_after_s` is reported stuck;
    tasks still running `shutdown_grace_s` after the stop request are cancelled."""
    pool = await open_pool(
        database_url,
        pool_size=pool_size,
        min_size=pool_min_size,
        reset=pool_reset,
        backoff=backoff(),
    )
    try:
        producer = await start_producer(
            bootstrap_servers, max_request_size=max_request_size, backoff=backoff()
        )
    except BaseException:
        await pool.close()
        raise
    runtime = Runtime(
        pool,
        producer,
        bootstrap_servers,
        health=TaskRegistry(stuck_after=stuck_after_s),
        backoff=backoff,
    )
    try:
        yield runtime
    finally:
        runtime.stop.set()
        await _stop_tasks(runtime.tasks, shutdown_grace_s)
        for close in runtime.closers:
            await close()
        for consumer in runtime.consumers:
            await consumer.stop()
        await producer.stop()
        await pool.close()


async def _stop_tasks(tasks: list[asyncio.Task[Any]], grace_s: float) -> None:
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=grace_s)
    for task in late:
        log.warning("%s did not stop within %.0fs; cancelling it", task.get_name(), grace_s)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
