"""Wires intake's adapters into its API and relay. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from services.common.gc_tuning import freeze_startup_objects
from services.common.kafka_security import kafka_kwargs
from services.common.runtime import broker_reachable
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.backoff import Backoff
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outage import database_unavailable
from services.intake.adapters.outbox_relay import Notifier, OutboxRelay, kafka_sender
from services.intake.adapters.sla_client import SlaClient
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.commands_consumer import CommandConsumer
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.entrypoints.limits import RequestLimits
from services.intake.entrypoints.supervisor import Supervisor
from services.intake.settings import IntakeSettings
from shared.policy import load_policies
from shared.topics import TICKET_COMMANDS, TICKET_EVENTS

log = logging.getLogger("ticketflow.intake")
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


async def _rollback_only(conn: asyncpg.Connection) -> None:
    """Pool reset without asyncpg's default four-statement round trip on every release: this
    service keeps no session state on pooled connections (the relay cleans up its own)."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def _until_up(what: str, start: Callable[[], Awaitable[T]], backoff: Backoff) -> T:
    """`start()`, retried with backoff while the database or the broker is not there yet (a
    pod that starts during an outage waits for it instead of crash-looping)."""
    while True:
        try:
            started = await start()
        except Exception as error:
            if not (database_unavailable(error) or isinstance(error, KafkaError)):
                raise
            delay = backoff.next_delay()
            log.warning("%s unavailable (%s); retry in %.2fs", what, error, delay)
            await asyncio.sleep(delay)
            continue
        backoff.reset()
        return started


def build_app(settings: IntakeSettings) -> FastAPI:
    """The intake app; its lifespan opens the pool, migrates, and runs the background tasks
    (outbox relay, notifier, command consumer) under a supervisor."""

    def backoff() -> Backoff:
        return Backoff(settings.backoff_initial_seconds, settings.backoff_max_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def open_pool() -> asyncpg.Pool:
            pool = await asyncpg.create_pool(
                settings.database_url, min_size=4, max_size=32, reset=_rollback_only
            )
            assert pool is not None
            return pool

        pool = await _until_up("database", open_pool, backoff())
        applied = await _until_up("database", lambda: migrate(pool), backoff())
        log.info("database migrated (%s)", ", ".join(applied))
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=2,
            max_request_size=settings.kafka_max_record_bytes,
            **kafka_kwargs(),
        )
        await _until_up("broker", producer.start, backoff())
        stop = asyncio.Event()
        tasks = Supervisor(stop, stuck_after=settings.task_stuck_seconds, backoff=backoff)
        relay = OutboxRelay(pool, kafka_sender(producer), TICKET_EVENTS.name, backoff=backoff())
        notifier = Notifier(pool)

        def committed() -> None:
            relay.wake()
            notifier.poke()

        async def readiness() -> dict[str, bool]:
            try:
                database = await pool.fetchval("SELECT 1") == 1
            except Exception as error:
                if not database_unavailable(error) and not isinstance(error, asyncpg.PostgresError):
                    raise
                database = False
            broker = await asyncio.to_thread(broker_reachable, settings.kafka_bootstrap_servers)
            return {"database": database, "broker": broker}

        deps = IntakeDeps(
            store=EventStore(pool, on_commit=committed),
            accounts=AccountStore(pool, key_cache_seconds=settings.api_key_cache_seconds),
            idempotency=IdempotencyStore(pool),
            policies=load_policies(),
            now=_utc_now,
            random_digits=_random_digits,
            new_ticket_id=uuid.uuid4,
            admin_token=settings.admin_token.get_secret_value(),
            readiness=readiness,
            relay=relay,
            sla=(
                SlaClient(settings.sla_url, token=settings.internal_token.get_secret_value())
                if settings.sla_url
                else None
            ),
            tasks=tasks,
        )
        app.state.deps = deps
        tasks.spawn("notifier", notifier.run, notifier.heartbeat)
        if settings.relay_enabled:
            tasks.spawn("relay", relay.run, relay.heartbeat)
        consumer = None
        if settings.commands_enabled:
            consumer = AIOKafkaConsumer(
                TICKET_COMMANDS.name,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=settings.commands_group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **kafka_kwargs(),
            )
            await _until_up("broker", consumer.start, backoff())
            commands = CommandConsumer(deps.store, consumer, producer, backoff=backoff())
            tasks.spawn("commands", commands.run, commands.heartbeat)
        freeze_startup_objects()
        log.info("intake ready on %s:%s", settings.host, settings.port)
        try:
            yield
        finally:
            stop.set()
            await tasks.stop()
            if consumer is not None:
                await consumer.stop()
            await producer.stop()
            if deps.sla is not None:
                await deps.sla.close()
            await pool.close()
            log.info("intake stopped")

    # The real dependencies exist only inside the lifespan (they need a running loop); until
    # then the app holds an empty shell that no request can reach.
    return create_app(
        IntakeDeps.__new__(IntakeDeps),
        lifespan=lifespan,
        limits=RequestLimits(
            max_subject_chars=settings.max_subject_chars,
            max_text_chars=settings.max_text_chars,
        ),
        retry_after=settings.retry_after_seconds,
        http=settings,
    )


def app_from_environment() -> FastAPI:
    """The app with settings read from the environment (uvicorn `--factory`, for workers)."""
    return build_app(IntakeSettings())
