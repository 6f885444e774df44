"""Wires the escalation service: the consumer of SLA and ticket events, the due-time scheduler
for deferred pages and next levels, the outbox publisher to `ticketflow.escalations`, and the
HTTP API. Nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

import asyncpg
from fastapi import FastAPI

from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import ConsumerLoop
from services.common.gc_tuning import freeze_startup_objects
from services.common.outbox import OutboxPublisher, kafka_send
from services.common.runtime import readiness_check
from services.common.scheduler import DueLoop
from services.common.service_app import migrated_runtime
from services.escalation.adapters.postgres import PostgresEscalationStore
from services.escalation.entrypoints.api import EscalationApiDeps, create_app
from services.escalation.entrypoints.consumer import TOPICS, EscalationConsumer
from services.escalation.service_layer.escalations import SERVICE, Escalator
from services.escalation.settings import EscalationSettings
from shared.policy import Policy, policies_by_ref

log = logging.getLogger("ticketflow.escalation")
MIGRATION_LOCK = 724010
OUTBOX_LOCK = 724011


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PostgresEscalator(Escalator):
    """The escalation use cases on the PostgreSQL store of `pool`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        policies: Mapping[str, Policy],
        now: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(PostgresEscalationStore(pool), policies, now, on_commit)


def build_app(settings: EscalationSettings, now: Callable[[], datetime] = _utc_now) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_runtime(
            settings, "services.escalation.adapters", MIGRATION_LOCK, log
        ) as rt:
            publisher = OutboxPublisher(rt.pool, SERVICE, kafka_send(rt.producer), OUTBOX_LOCK)
            scheduler: DueLoop | None = None

            def committed() -> None:
                publisher.wake()
                if scheduler is not None:
                    scheduler.wake()

            escalator = PostgresEscalator(rt.pool, policies_by_ref(), now, committed)
            scheduler = DueLoop(
                "escalation levels",
                escalator.next_due,
                escalator.run_due,
                now,
                max_sleep=settings.max_sleep_s,
            )
            consumer = await rt.consumer(TOPICS, settings.group_id)
            loop = ConsumerLoop(
                SERVICE, consumer, rt.producer, EscalationConsumer(escalator).handle
            )
            rt.spawn(publisher.run, "escalation outbox")
            rt.spawn(scheduler.run, "escalation scheduler")
            rt.spawn(loop.run, "escalation consumer")
            app.state.deps = EscalationApiDeps(
                escalator,
                ApiKeyVerifier(rt.pool),
                readiness_check(rt.pool, settings.kafka_bootstrap_servers),
                rt.health,
            )
            freeze_startup_objects()
            log.info("escalation ready on %s:%s", settings.host, settings.port)
            yield
            log.info("escalation stopping")

    return create_app(lifespan=lifespan, http=settings)
