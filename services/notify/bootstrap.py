"""Wires notify: the consumer of ticket, SLA, escalation and billing events that logs
notifications, the deliverer (email over SMTP, signed webhooks) driven by the due-time
scheduler, the outbox publisher to `ticketflow.notifications`, and the HTTP API. Nothing
connects at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import ConsumerLoop
from services.common.gc_tuning import freeze_startup_objects
from services.common.health import TaskRegistry
from services.common.http_settings import HttpSettings
from services.common.outbox import OutboxPublisher, kafka_send
from services.common.retrying import retry_until_done
from services.common.runtime import readiness_check
from services.common.scheduler import DueLoop
from services.common.service_app import migrated_runtime
from services.notify.adapters import store
from services.notify.adapters.destination_guard import DestinationGuard
from services.notify.adapters.email import EmailSender
from services.notify.adapters.postgres import (
    PostgresDeliveryStore,
    PostgresNotifyLog,
    PostgresPlanningStore,
)
from services.notify.adapters.renderers import EmailRenderer, WebhookRenderer
from services.notify.adapters.secret_box import SecretBox
from services.notify.adapters.templates import Templates
from services.notify.adapters.webhooks import WebhookSender, WebhookTimeouts
from services.notify.domain.notifications import LaneRule, Notification
from services.notify.domain.retries import Outcome, RetryPolicy
from services.notify.domain.routing import to_people, to_subscriptions
from services.notify.entrypoints.api import NotifyApiDeps, create_app
from services.notify.entrypoints.consumer import TOPICS, NotifyConsumer
from services.notify.service_layer.admin import NotifyAdmin
from services.notify.service_layer.channels import ChannelSpec
from services.notify.service_layer.delivery import Deliverer
from services.notify.service_layer.planning import SERVICE, Planner
from services.notify.service_layer.ports import Sender
from services.notify.settings import NotifySettings

log = logging.getLogger("ticketflow.notify")
MIGRATION_LOCK = 724020
OUTBOX_LOCK = 724021


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LaneSizes:
    """Sends in flight at once: to one webhook subscription, to all webhooks together (the
    connection pool), and emails."""

    per_subscription: int = 4
    webhooks: int = 64
    email: int = 8

    @classmethod
    def of(cls, settings: NotifySettings) -> LaneSizes:
        return cls(
            settings.webhook_concurrency_per_subscription,
            settings.concurrency,
            settings.email_concurrency,
        )


DEFAULT_LANES = LaneSizes()


def channels(
    templates: Templates, email: Sender, webhooks: Sender, lanes: LaneSizes
) -> list[ChannelSpec]:
    """Every notification channel, each described once: its name, routing rule, renderer,
    sender and lanes. `build_app` gives the same list to the planner and the deliverer. A
    new channel is its adapter module and one more entry here (its sender passed in, built
    in `build_app` like `email_sender`)."""
    return [
        ChannelSpec("email", to_people, EmailRenderer(templates), email, LaneRule(lanes.email)),
        ChannelSpec(
            "webhook",
            to_subscriptions,
            WebhookRenderer(),
            webhooks,
            LaneRule(lanes.per_subscription, per_recipient=True, together=lanes.webhooks),
        ),
    ]


class _NotSending:
    """The senders of a planner's channels: planning sends nothing."""

    async def send(self, notification: Notification) -> Outcome:
        raise AssertionError("the planner does not send")


class PostgresPlanner(Planner):
    """Planning on the PostgreSQL store of `pool`, with the channels of `channels()` (tests
    and benchmarks: the service wires `Planner` itself, with its senders)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        templates: Templates,
        now: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        unsent = _NotSending()
        registered = channels(templates, unsent, unsent, DEFAULT_LANES)
        super().__init__(PostgresPlanningStore(pool), registered, now, on_commit)


def delivery_store(pool: asyncpg.Pool, registered: list[ChannelSpec]) -> PostgresDeliveryStore:
    """The PostgreSQL delivery log, once it is sure to give the channels their lanes."""
    store.check_lanes({channel.name: channel.lanes for channel in registered})
    return PostgresDeliveryStore(pool)


class PostgresDeliverer(Deliverer):
    """Delivery from the PostgreSQL log of `pool` through the email and webhook senders of
    `channels()` (their renderers unused), with the lanes of `LaneSizes` (`concurrency`:
    all webhooks together, `per_subscription`, `email_concurrency`); the other keywords are
    `Deliverer`'s (batch size, lease, prefetch, callbacks). Tests and benchmarks: the service
    wires `Deliverer` itself, with the channels its planner has."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        email: Sender,
        webhooks: Sender,
        now: Callable[[], datetime],
        retry: RetryPolicy,
        *,
        concurrency: int = DEFAULT_LANES.webhooks,
        per_subscription: int = DEFAULT_LANES.per_subscription,
        email_concurrency: int = DEFAULT_LANES.email,
        **options: Any,
    ) -> None:
        lanes = LaneSizes(per_subscription, concurrency, email_concurrency)
        registered = channels(Templates(), email, webhooks, lanes)
        super().__init__(delivery_store(pool, registered), registered, now, retry, **options)


def email_sender(settings: NotifySettings) -> EmailSender:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return EmailSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=password,
        start_tls=settings.smtp_start_tls,
        timeout_s=settings.smtp_timeout_s,
    )


def secret_box(settings: NotifySettings) -> SecretBox:
    keys = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    return SecretBox.configured(keys, settings.admin_token.get_secret_value())


def webhook_sender(
    settings: NotifySettings, box: SecretBox, guard: DestinationGuard
) -> WebhookSender:
    return WebhookSender(
        box,
        guard,
        timeouts=WebhookTimeouts(
            connect_s=settings.webhook_connect_timeout_s,
            read_s=settings.webhook_read_timeout_s,
            total_s=settings.webhook_total_timeout_s,
        ),
        max_connections=settings.concurrency,
    )


async def seal_secrets(pool: asyncpg.Pool, box: SecretBox) -> None:
    """Seal clear-text secrets and re-seal those under an older key (key rotation)."""
    done = await retry_until_done(
        lambda: store.seal_secrets(pool, box), "sealing webhook secrets", log
    )
    if done.sealed or done.resealed:
        log.info(
            "webhook secrets: %d sealed, %d re-sealed under the current key",
            done.sealed,
            done.resealed,
        )
    if done.unreadable:
        log.error(
            "webhook secrets of %s cannot be opened with TICKETFLOW_NOTIFY_SECRET_KEYS: their "
            "deliveries fail until the key that sealed them is configured again",
            ", ".join(done.unreadable),
        )


class PostgresNotifyApiDeps(NotifyApiDeps):
    """The API's use cases on the PostgreSQL log of `pool`; `wake`: the delivery loop's."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: ApiKeyVerifier,
        templates: Templates,
        admin_token: str,
        now: Callable[[], datetime],
        readiness: Callable[[], Awaitable[dict[str, bool]]],
        wake: Callable[[], None],
        tasks: TaskRegistry | None = None,
        *,
        guard: DestinationGuard,
        secrets: SecretBox,
    ) -> None:
        admin = NotifyAdmin(PostgresNotifyLog(pool, secrets), templates, guard, now, wake)
        super().__init__(admin, keys, admin_token, readiness, tasks)


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    return RetryPolicy(
        settings.max_attempts,
        timedelta(seconds=settings.first_retry_s),
        timedelta(seconds=settings.max_retry_s),
    )


def build_app(settings: NotifySettings, now: Callable[[], datetime] = _utc_now) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_runtime(
            settings, "services.notify.adapters", MIGRATION_LOCK, log
        ) as rt:
            box = secret_box(settings)
            await seal_secrets(rt.pool, box)
            guard = DestinationGuard(settings.destination_policy())
            publisher = OutboxPublisher(rt.pool, SERVICE, kafka_send(rt.producer), OUTBOX_LOCK)
            webhooks = webhook_sender(settings, box, guard)
            templates = Templates(
                budget_s=settings.template_budget_s,
                workers=settings.template_workers,
                memory_mb=settings.template_memory_mb,
                body_chars=settings.template_body_chars,
            )
            registered = channels(
                templates, email_sender(settings), webhooks, LaneSizes.of(settings)
            )
            deliverer = Deliverer(
                delivery_store(rt.pool, registered),
                registered,
                now,
                retry_policy(settings),
                batch_size=settings.batch_size,
                on_commit=publisher.wake,
            )
            rt.closers.append(deliverer.close)
            rt.closers.append(webhooks.close)
            rt.closers.append(templates.aclose)
            scheduler = DueLoop(
                "notification delivery",
                deliverer.next_due,
                deliverer.start_due,
                now,
                max_sleep=settings.max_sleep_s,
            )
            deliverer.on_capacity = scheduler.wake
            planner = Planner(PostgresPlanningStore(rt.pool), registered, now, scheduler.wake)
            consumer = await rt.consumer(TOPICS, settings.group_id)
            loop = ConsumerLoop(SERVICE, consumer, rt.producer, NotifyConsumer(planner).handle)
            rt.spawn(publisher.run, "notify outbox")
            rt.spawn(scheduler.run, "notify delivery")
            rt.spawn(loop.run, "notify consumer")
            app.state.deps = PostgresNotifyApiDeps(
                rt.pool,
                ApiKeyVerifier(rt.pool),
                templates,
                settings.admin_token.get_secret_value(),
                now,
                readiness_check(rt.pool, settings.kafka_bootstrap_servers),
                scheduler.wake,
                rt.health,
                guard=guard,
                secrets=box,
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

    return create_app(lifespan=lifespan, http=HttpSettings.from_env("TICKETFLOW_NOTIFY_"))
