"""Wires billing: the consumer of ticket events that keeps each account's ledger, the outbox
publisher to `ticketflow.billing`, and the HTTP API. Nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from services.billing.adapters.postgres import PostgresLedger
from services.billing.entrypoints.api import BillingApiDeps, create_app
from services.billing.entrypoints.consumer import TOPICS, BillingConsumer
from services.billing.service_layer.ledger import SERVICE, Biller
from services.billing.service_layer.reads import BillingReads
from services.billing.settings import BillingSettings
from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import ConsumerLoop
from services.common.gc_tuning import freeze_startup_objects
from services.common.outbox import OutboxPublisher, kafka_send
from services.common.runtime import readiness_check
from services.common.service_app import migrated_runtime
from shared.policy import policies_by_ref

log = logging.getLogger("ticketflow.billing")
MIGRATION_LOCK = 724030
OUTBOX_LOCK = 724031


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_app(settings: BillingSettings, now: Callable[[], datetime] = _utc_now) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_runtime(
            settings, "services.billing.adapters", MIGRATION_LOCK, log
        ) as rt:
            publisher = OutboxPublisher(rt.pool, SERVICE, kafka_send(rt.producer), OUTBOX_LOCK)
            ledger = PostgresLedger(rt.pool)
            biller = Biller(ledger, policies_by_ref(), now, publisher.wake)
            consumer = await rt.consumer(TOPICS, settings.group_id)
            # Tickets of different partitions do not wait on each other (an account's prepaid
            # balance is one row lock), so the partitions of a batch are billed in parallel.
            loop = ConsumerLoop(
                SERVICE,
                consumer,
                rt.producer,
                BillingConsumer(biller).handle,
                parallel_partitions=True,
            )
            rt.spawn(publisher.run, "billing outbox")
            rt.spawn(loop.run, "billing consumer")
            app.state.deps = BillingApiDeps(
                BillingReads(ledger),
                ApiKeyVerifier(rt.pool),
                settings.admin_token.get_secret_value(),
                readiness_check(rt.pool, settings.kafka_bootstrap_servers),
                rt.health,
                now,
            )
            freeze_startup_objects()
            log.info("billing ready on %s:%s", settings.host, settings.port)
            yield
            log.info("billing stopping")

    return create_app(lifespan=lifespan, http=settings)
