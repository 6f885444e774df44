"""Wires intake's adapters into its API and relay. Nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from fastapi import FastAPI

from services.common import logs
from services.common.backoff import Backoff
from services.common.gc_tuning import freeze_startup_objects
from services.common.retrying import retry_until_done
from services.common.runtime import readiness_check, running
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outbox_relay import Notifier, OutboxRelay, kafka_sender
from services.intake.adapters.sla_client import SlaClient
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.billing_consumer import BillingFactsConsumer
from services.intake.entrypoints.commands_consumer import CommandConsumer
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.entrypoints.limits import RequestLimits
from services.intake.settings import IntakeSettings
from shared.policy import load_policies
from shared.topics import BILLING, TICKET_COMMANDS, TICKET_EVENTS

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
    """The intake app; its lifespan opens the runtime (pool, producer: waiting for the
    database and the broker), migrates, and runs the background tasks (outbox relay,
    notifier, command consumer) supervised, as every service does (`services.common`)."""

    def backoff() -> Backoff:
        return Backoff(initial=settings.backoff_initial_seconds, cap=settings.backoff_max_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(
            settings.database_url,
            settings.kafka_bootstrap_servers,
            pool_size=32,
            pool_min_size=4,
            pool_reset=_rollback_only,
            max_request_size=settings.kafka_max_record_bytes,
            backoff=backoff,
            stuck_after_s=settings.task_stuck_seconds,
        ) as rt:
            applied = await retry_until_done(
                lambda: migrate(rt.pool), "intake migrations", log, backoff=backoff()
            )
            log.info("database migrated (%s)", ", ".join(applied))
            relay = OutboxRelay(
                rt.pool, kafka_sender(rt.producer), TICKET_EVENTS.name, backoff=backoff()
            )
            notifier = Notifier(rt.pool)

            def committed() -> None:
                relay.wake()
                notifier.poke()

            deps = IntakeDeps(
                store=EventStore(rt.pool, on_commit=committed),
                accounts=AccountStore(rt.pool, key_cache_seconds=settings.api_key_cache_seconds),
                idempotency=IdempotencyStore(rt.pool),
                policies=load_policies(),
                now=_utc_now,
                random_digits=_random_digits,
                new_ticket_id=uuid.uuid4,
                admin_token=settings.admin_token.get_secret_value(),
                readiness=readiness_check(rt.pool, settings.kafka_bootstrap_servers),
                relay=relay,
                sla=(
                    SlaClient(settings.sla_url, token=settings.internal_token.get_secret_value())
                    if settings.sla_url
                    else None
                ),
                tasks=rt.health,
            )
            if deps.sla is not None:
                rt.closers.append(deps.sla.close)
            app.state.deps = deps
            rt.spawn(notifier.run, "notifier")
            if settings.relay_enabled:
                rt.spawn(relay.run, "relay")
            if settings.commands_enabled:
                consumer = await rt.consumer([TICKET_COMMANDS.name], settings.commands_group)
                commands = CommandConsumer(deps.store, consumer, rt.producer, backoff=backoff())
                rt.spawn(commands.run, "commands")
            if settings.billing_facts_enabled:
                consumer = await rt.consumer([BILLING.name], settings.billing_facts_group)
                facts = BillingFactsConsumer(
                    deps.accounts, consumer, rt.producer, backoff=backoff()
                )
                rt.spawn(facts.run, "billing facts")
            freeze_startup_objects()
            log.info("intake ready on %s:%s", settings.host, settings.port)
            yield
            log.info("intake stopping")
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
    """The app with settings read from the environment (uvicorn `--factory`, for workers,
    which log in the service's format as the parent does)."""
    logs.configure("intake")
    return build_app(IntakeSettings())
