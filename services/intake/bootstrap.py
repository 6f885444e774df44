"""Wires intake's adapters into its API and relay. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from services.common.gc_tuning import freeze_startup_objects
from services.common.kafka_security import kafka_kwargs
from services.common.runtime import broker_reachable
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outbox_relay import Notifier, OutboxRelay, kafka_sender
from services.intake.adapters.sla_client import SlaClient
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.commands_consumer import CommandConsumer
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.settings import IntakeSettings
from shared.policy import load_policies
from shared.topics import TICKET_COMMANDS, TICKET_EVENTS

log = logging.getLogger("ticketflow.intake")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


async def _rollback_only(conn: asyncpg.Connection) -> None:
    """Pool reset without asyncpg's default four-statement round trip on every release: this
    service keeps no session state on pooled connections (the relay cleans up its own)."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def build_app(settings: IntakeSettings) -> FastAPI:
    """The intake app; its lifespan opens the pool, migrates, and runs the outbox relay."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=4, max_size=32, reset=_rollback_only
        )
        assert pool is not None
        applied = await migrate(pool)
        log.info("database migrated (%s)", ", ".join(applied))
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=2,
            **kafka_kwargs(),
        )
        await producer.start()
        relay = OutboxRelay(pool, kafka_sender(producer), TICKET_EVENTS.name)
        notifier = Notifier(pool)
        stop = asyncio.Event()

        def committed() -> None:
            relay.wake()
            notifier.poke()

        async def readiness() -> dict[str, bool]:
            try:
                database = await pool.fetchval("SELECT 1") == 1
            except (OSError, asyncpg.PostgresError):
                database = False
            broker = await asyncio.to_thread(broker_reachable, settings.kafka_bootstrap_servers)
            return {"database": database, "broker": broker}

        deps = IntakeDeps(
            store=EventStore(pool, on_commit=committed),
            accounts=AccountStore(pool),
            idempotency=IdempotencyStore(pool),
            policies=load_policies(),
            clock=_utc_now,
            random_digits=_random_digits,
            new_ticket_id=uuid.uuid4,
            admin_token=settings.admin_token.get_secret_value(),
            readiness=readiness,
            relay=relay,
            sla=SlaClient(settings.sla_url) if settings.sla_url else None,
        )
        app.state.deps = deps
        tasks = [asyncio.create_task(notifier.run(stop))]
        if settings.relay_enabled:
            tasks.append(asyncio.create_task(relay.run(stop)))
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
            await consumer.start()
            commands = CommandConsumer(deps.store, consumer, producer)
            tasks.append(asyncio.create_task(commands.run(stop)))
        freeze_startup_objects()
        log.info("intake ready on %s:%s", settings.host, settings.port)
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if consumer is not None:
                await consumer.stop()
            await producer.stop()
            if deps.sla is not None:
                await deps.sla.close()
            await pool.close()
            log.info("intake stopped")

    # The real dependencies exist only inside the lifespan (they need a running loop); until
    # then the app holds an empty shell that no request can reach.
    return create_app(IntakeDeps.__new__(IntakeDeps), lifespan=lifespan)


def app_from_environment() -> FastAPI:
    """The app with settings read from the environment (uvicorn `--factory`, for workers)."""
    return build_app(IntakeSettings())
