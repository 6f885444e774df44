"""Wires notify: the consumer of ticket, SLA and escalation events that logs notifications,
the deliverer (email over SMTP, signed webhooks) driven by the due-time scheduler, the outbox
publisher to `ticketflow.notifications`, and the HTTP API. Nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import ConsumerLoop
from services.common.gc_tuning import freeze_startup_objects
from services.common.outbox import OutboxPublisher, kafka_send
from services.common.runtime import migrate_until_done, readiness_check, running
from services.common.scheduler import DueLoop
from services.notify.adapters.email import EmailSender
from services.notify.adapters.templates import Templates
from services.notify.adapters.webhooks import WebhookSender
from services.notify.domain.retries import RetryPolicy
from services.notify.entrypoints.api import NotifyApiDeps, create_app
from services.notify.entrypoints.consumer import TOPICS, NotifyConsumer
from services.notify.entrypoints.deliverer import Deliverer
from services.notify.entrypoints.planner import SERVICE, Planner
from services.notify.settings import NotifySettings

log = logging.getLogger("ticketflow.notify")
MIGRATION_LOCK = 724020
OUTBOX_LOCK = 724021


def _utc_now() -> datetime:
    return datetime.now(UTC)


def email_sender(settings: NotifySettings) -> EmailSender:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return EmailSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=password,
        start_tls=settings.smtp_start_tls,
    )


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    return RetryPolicy(
        settings.max_attempts,
        timedelta(seconds=settings.first_retry_s),
        timedelta(seconds=settings.max_retry_s),
    )


def build_app(settings: NotifySettings, clock: Callable[[], datetime] = _utc_now) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(
            settings.database_url,
            settings.kafka_bootstrap_servers,
            stuck_after_s=settings.stuck_after_s,
        ) as rt:
            applied = await migrate_until_done(rt.pool, "services.notify.adapters", MIGRATION_LOCK)
            log.info("database migrated (%s)", ", ".join(applied))
            publisher = OutboxPublisher(rt.pool, SERVICE, kafka_send(rt.producer), OUTBOX_LOCK)
            webhooks = WebhookSender(max_connections=settings.concurrency)
            rt.closers.append(webhooks.close)
            deliverer = Deliverer(
                rt.pool,
                email_sender(settings),
                webhooks,
                clock,
                retry_policy(settings),
                batch_size=settings.batch_size,
                concurrency=settings.concurrency,
                on_commit=publisher.wake,
            )
            scheduler = DueLoop(
                "notification delivery",
                deliverer.next_due,
                deliverer.run_due,
                clock,
                max_sleep=settings.max_sleep_s,
            )
            templates = Templates()
            planner = Planner(rt.pool, templates, clock, scheduler.wake)
            consumer = await rt.consumer(TOPICS, settings.group_id)
            loop = ConsumerLoop(SERVICE, consumer, rt.producer, NotifyConsumer(planner).handle)
            rt.spawn(publisher.run, "notify outbox")
            rt.spawn(scheduler.run, "notify delivery")
            rt.spawn(loop.run, "notify consumer")
            app.state.deps = NotifyApiDeps(
                rt.pool,
                ApiKeyVerifier(rt.pool),
                templates,
                settings.admin_token.get_secret_value(),
                clock,
                readiness_check(rt.pool, settings.kafka_bootstrap_servers),
                scheduler.wake,
                rt.health,
            )
            freeze_startup_objects()
            log.info(
                "notify ready on %s:%s (SMTP %s:%s)",
                settings.host,
                settings.port,
                settings.smtp_host,
                settings.smtp_port,
            )
            yield
            log.info("notify stopping")

    return create_app(lifespan=lifespan)
