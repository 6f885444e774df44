"""The notify HTTP API: the delivery log of a ticket (API key, scoped to its accounts), and
admin endpoints for webhook subscriptions, account templates and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query
from fastapi import Path as PathParam
from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from services.common import outbox
from services.common.api_keys import ApiKeyVerifier
from services.common.health import TaskRegistry
from services.common.http_settings import HttpSettings
from services.common.ops import OUTBOX_PENDING, ops_router
from services.common.problems import Problem
from services.common.redaction import redact_url
from services.common.service_app import deps_getter, service_app
from services.common.web_auth import Admin, Key
from services.notify.adapters import store
from services.notify.adapters.destination_guard import DestinationGuard
from services.notify.adapters.secret_box import SecretBox
from services.notify.adapters.templates import TemplateError, Templates
from services.notify.domain.destinations import DestinationRefused
from services.notify.domain.routing import TEMPLATES
from services.notify.service_layer.planning import SERVICE

QUEUED = Gauge("ticketflow_notifications", "Notifications waiting or given up", ["status"])
NO_NUL = r"^[^\x00]*$"


class NotificationView(BaseModel):
    id: uuid.UUID
    ticket_id: str
    account: str
    channel: Literal["email", "webhook"]
    recipient: str
    template: str
    source_event_id: uuid.UUID
    source_type: str
    subject: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    url: HttpUrl = Field(examples=["https://hooks.example.com/ticketflow"])
    events: list[Annotated[str, Field(pattern=r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")]] = Field(
        default=["sla.warning", "sla.breached", "sla.breach_retracted", "escalation.*"],
        min_length=1,
        description="Event types (`sla.breached`), families (`escalation.*`) or `*`",
    )


class SubscriptionCreated(BaseModel):
    id: str
    account: str
    url: str = Field(description="The URL, userinfo and query string redacted")
    events: list[str]
    secret: str = Field(description="HMAC-SHA256 signing secret; shown once, store it now")


class SubscriptionView(BaseModel):
    id: str
    account: str
    url: str = Field(description="The URL, userinfo and query string redacted")
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    body: str = Field(min_length=1, max_length=100_000, pattern=NO_NUL)


class RedeliverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[uuid.UUID] | None = Field(default=None, description="None: every dead letter")


class NotifyApiDeps:
    def __init__(
        self,
        pool: Any,
        keys: ApiKeyVerifier,
        templates: Templates,
        admin_token: str,
        clock: Callable[[], datetime],
        readiness: Callable[[], Awaitable[dict[str, bool]]],
        wake: Callable[[], None],
        tasks: TaskRegistry | None = None,
        *,
        guard: DestinationGuard,
        secrets: SecretBox,
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.templates = templates
        self.admin_token = admin_token
        self.clock = clock
        self.readiness = readiness
        self.wake = wake
        self.tasks = tasks
        self.guard = guard
        self.secrets = secrets

    async def refresh_metrics(self) -> None:
        counts = await store.status_counts(self.pool)
        for status in ("pending", "dead"):
            QUEUED.labels(status).set(counts.get(status, 0))
        OUTBOX_PENDING.labels(SERVICE).set(await outbox.pending(self.pool, SERVICE))


get_deps = deps_getter(NotifyApiDeps)


Deps = Annotated[NotifyApiDeps, Depends(get_deps)]


def create_app(lifespan: Any = None, http: HttpSettings | None = None) -> FastAPI:
    """`http`: the body limit and the per-API-key rate limit (defaults of `HttpSettings`)."""
    app = service_app(
        "notify",
        "Email and signed webhooks, with a delivery log, retries and dead letters. "
        "Webhooks carry `Ticketflow-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
        "'<t>.<raw body>'>`; reject a timestamp older than 5 minutes.",
        lifespan=lifespan,
        http=http,
        admin_prefix="/v1/admin/",
    )

    @app.get("/v1/notifications", response_model=list[NotificationView])
    async def notifications(
        deps: Deps,
        key: Key,
        ticket: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
        status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[NotificationView]:
        """The delivery log of the key's accounts (optionally one ticket), newest first."""
        rows = await store.listing(deps.pool, sorted(key.accounts), ticket, status, limit)
        return [NotificationView(**dict(row)) for row in rows]

    @app.post("/v1/admin/webhooks", status_code=201, response_model=SubscriptionCreated)
    async def subscribe(body: SubscriptionBody, deps: Deps, _admin: Admin) -> SubscriptionCreated:
        """Subscribe a URL of an account to event types; the signing secret is shown once.
        The URL's host must resolve to public addresses only (no loopback, private,
        link-local, ... unless the operator allowed them), and be https in production; the
        same check runs again on every delivery."""
        url = str(body.url)
        try:
            await deps.guard.check_url(url)
        except DestinationRefused as exc:
            raise Problem(
                422,
                "Webhook destination not allowed",
                f"url: {exc}",
                errors=[{"field": "url", "message": str(exc)}],
            ) from None
        sub_id, secret = await store.create_subscription(
            deps.pool, body.account, url, body.events, deps.secrets
        )
        return SubscriptionCreated(
            id=sub_id, account=body.account, url=redact_url(url), events=body.events, secret=secret
        )

    @app.get("/v1/admin/webhooks", response_model=list[SubscriptionView])
    async def subscriptions(
        deps: Deps,
        _admin: Admin,
        account: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    ) -> list[SubscriptionView]:
        """Subscriptions (without their secrets; URLs redacted)."""
        rows = await store.list_subscriptions(deps.pool, account)
        return [SubscriptionView(**{**dict(row), "url": redact_url(row["url"])}) for row in rows]

    @app.delete("/v1/admin/webhooks/{subscription_id}", status_code=204)
    async def unsubscribe(
        subscription_id: Annotated[str, PathParam(max_length=64, pattern=r"^wh_[0-9a-f]+$")],
        deps: Deps,
        _admin: Admin,
    ) -> None:
        """Disable a subscription: nothing new is sent to it; queued deliveries go dead."""
        if not await store.disable_subscription(deps.pool, subscription_id):
            raise Problem(404, "Not found", f"no active subscription {subscription_id}")

    @app.put("/v1/admin/templates/{account}/{name}", status_code=204)
    async def put_template(
        account: Annotated[str, PathParam(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")],
        name: str,
        body: TemplateBody,
        deps: Deps,
        _admin: Admin,
    ) -> None:
        """Override one email template for an account (Jinja2, immutable sandbox). The
        template is rendered against sample data before it is stored: undefined names, unsafe
        calls, more than the CPU budget or the body cap are refused with 422. Variables:
        `ticket` (number, subject, contact, priority), `event` (the event), `account`."""
        if name not in TEMPLATES:
            raise Problem(404, "Not found", f"no template {name!r}; have {', '.join(TEMPLATES)}")
        try:
            await deps.templates.validate(name, body.subject, body.body)
        except TemplateError as exc:
            raise Problem(422, "Invalid template", str(exc)) from None
        await store.put_template(deps.pool, account, name, body.subject, body.body)

    @app.get("/v1/admin/dead-letters", response_model=list[NotificationView])
    async def dead_letters(
        deps: Deps,
        _admin: Admin,
        account: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[NotificationView]:
        """Notifications that gave up (permanent failure or attempts exhausted)."""
        accounts = [account] if account else await store.all_accounts(deps.pool)
        rows = await store.listing(deps.pool, accounts, None, "dead", limit)
        return [NotificationView(**dict(row)) for row in rows]

    @app.post("/v1/admin/dead-letters/redeliver")
    async def redeliver(body: RedeliverBody, deps: Deps, _admin: Admin) -> dict[str, int]:
        """Queue dead notifications again (attempts reset)."""
        count = await store.redeliver(deps.pool, body.ids, deps.clock())
        deps.wake()
        return {"requeued": count}

    app.include_router(ops_router(app))
    return app
