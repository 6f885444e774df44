"""Wires the console: the read model in PostgreSQL, the consumer projecting ticket, SLA and
escalation events into it, the web app, and the rebuild from the topics. Nothing connects at
import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import BadMessage, ConsumerLoop
from services.common.gc_tuning import freeze_startup_objects
from services.common.health import TaskRegistry
from services.common.runtime import migrate_until_done, open_pool, readiness_check
from services.common.service_app import migrated_runtime
from services.console.adapters.escalation_api import HttpEscalationAcks
from services.console.adapters.postgres import PostgresReadModel, PostgresSessions
from services.console.adapters.topic_replay import replay_topics
from services.console.entrypoints.consumer import TOPICS, ConsoleConsumer
from services.console.entrypoints.sessions import Signer
from services.console.entrypoints.web import ConsoleApiDeps, create_app
from services.console.service_layer.projection import SERVICE, Projection
from services.console.settings import ConsoleSettings
from shared.policy import Policy, policies_by_ref

log = logging.getLogger("ticketflow.console")
MIGRATION_LOCK = 724050
PACKAGE = "services.console.adapters"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def policy_zones(policies: Mapping[str, Policy]) -> dict[str, tzinfo]:
    """Each pinned policy's zone: the one of its support calendar (escalation's quiet
    hours), the hours its customers keep."""
    zones: dict[str, tzinfo] = {}
    for ref, policy in policies.items():
        calendar = policy.calendars.get(policy.escalation.support_calendar)
        zones[ref] = calendar.zone if calendar is not None else UTC
    return zones


def console_deps(
    settings: ConsoleSettings,
    pool: asyncpg.Pool,
    now: Callable[[], datetime] = _utc_now,
    *,
    readiness: Callable[[], Awaitable[dict[str, bool]]] | None = None,
    tasks: TaskRegistry | None = None,
) -> ConsoleApiDeps:
    """The web app's deps on the read model of `pool` (also what the tests build)."""
    model = PostgresReadModel(pool)
    policies = policies_by_ref()
    return ConsoleApiDeps(
        projection=Projection(model),
        model=model,
        keys=ApiKeyVerifier(pool),
        key_accounts=PostgresSessions(pool),
        signer=Signer(settings.secret.get_secret_value()),
        admin_token=settings.admin_token.get_secret_value(),
        policy_zones=policy_zones(policies),
        policies=policies,
        acks=HttpEscalationAcks(settings.escalation_url),
        readiness=readiness or _database_only(pool),
        now=now,
        secure_cookies=settings.environment != "development",
        session_s=settings.session_hours * 3600,
        events_every_s=settings.events_every_s,
        events_stream_s=settings.events_stream_s,
        tasks=tasks,
    )


def _database_only(pool: asyncpg.Pool) -> Callable[[], Awaitable[dict[str, bool]]]:
    async def check() -> dict[str, bool]:
        return {"database": await pool.fetchval("SELECT 1") == 1}

    return check


def build_app(settings: ConsoleSettings, now: Callable[[], datetime] = _utc_now) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_runtime(settings, PACKAGE, MIGRATION_LOCK, log) as rt:
            deps = console_deps(
                settings,
                rt.pool,
                now,
                readiness=readiness_check(rt.pool, settings.kafka_bootstrap_servers),
                tasks=rt.health,
            )
            consumer = await rt.consumer(TOPICS, settings.group_id)
            loop = ConsumerLoop(
                SERVICE, consumer, rt.producer, ConsoleConsumer(deps.projection).handle
            )
            rt.spawn(loop.run, "console consumer")
            app.state.deps = deps
            freeze_startup_objects()
            log.info("console ready on %s:%s", settings.host, settings.port)
            yield
            log.info("console stopping")

    return create_app(lifespan=lifespan, http=settings)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    read: int
    skipped: int
    """Records that do not decode (the live consumer dead-lettered them)."""


async def rebuild(settings: ConsoleSettings, progress: Callable[[int, int], None]) -> Rebuilt:
    """Forget the read model and project every record of the console's topics again, from
    their beginning to their current end. The running console may keep consuming meanwhile:
    both apply each event once (tracking rows)."""
    pool = await open_pool(settings.database_url, pool_size=4, min_size=1)
    try:
        await migrate_until_done(pool, PACKAGE, MIGRATION_LOCK)
        model = PostgresReadModel(pool)
        await model.clear()
        consumer = ConsoleConsumer(Projection(model))
        skipped = 0

        async def handle(message: Any) -> None:
            nonlocal skipped
            try:
                await consumer.handle(message)
            except BadMessage:
                skipped += 1

        read = await replay_topics(settings.kafka_bootstrap_servers, TOPICS, handle, progress)
        return Rebuilt(read, skipped)
    finally:
        await pool.close()
