"""The notify HTTP API: the delivery log of a ticket (API key, scoped to its accounts), and
admin endpoints for webhook subscriptions, account templates and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from services.common.api_keys import ApiKeyVerifier
from services.common.health import TaskRegistry
from services.common.http_settings import HttpSettings
from services.common.ops import ops_router
from services.common.problems import Problem
from services.common.redaction import redact_url
from services.common.service_app import deps_getter, service_app
from services.common.web_auth import Admin, Key
from services.notify.domain.destinations import DestinationRefused
from services.notify.domain.routing import TEMPLATES, UnknownTemplate
from services.notify.domain.templating import TemplateError
from services.notify.service_layer.admin import NotifyAdmin

NO_NUL = r"^[^\x00]*$"


class NotificationView(BaseModel):
    id: uuid.UUID
    ticket_id: str
    account: str
    channel: str = Field(description="The channel's registered name: `email`, `webhook`")
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
        admin: NotifyAdmin,
        keys: ApiKeyVerifier,
        admin_token: str,
        readiness: Callable[[], Awaitable[dict[str, bool]]],
        tasks: TaskRegistry | None = None,
    ) -> None:
        self.admin = admin
        self.keys = keys
        self.admin_token = admin_token
        self.readiness = readiness
        self.tasks = tasks

    async def refresh_metrics(self) -> None:
        await self.admin.refresh_metrics()


get_deps = deps_getter(NotifyApiDeps)


Deps = Annotated[NotifyApiDeps, Depends(get_deps)]


log_routes = APIRouter()
webhook_routes = APIRouter()
template_routes = APIRouter()
dead_letter_routes = APIRouter()


@log_routes.get("/v1/notifications", response_model=list[NotificationView])
async def notifications(
    deps: Deps,
    key: Key,
    ticket: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationView]:
    """The delivery log of the key's accounts (optionally one ticket), newest first."""
    rows = await deps.admin.notifications(sorted(key.accounts), ticket, status, limit)
    return [NotificationView(**row) for row in rows]


@webhook_routes.post("/v1/admin/webhooks", status_code=201, response_model=SubscriptionCreated)
async def subscribe(body: SubscriptionBody, deps: Deps, _admin: Admin) -> SubscriptionCreated:
    """Subscribe a URL of an account to event types; the signing secret is shown once.
    The URL's host must resolve to public addresses only (no loopback, private,
    link-local, ... unless the operator allowed them), and be https in production; the
    same check runs again on every delivery."""
    url = str(body.url)
    try:
        sub_id, secret = await deps.admin.subscribe(body.account, url, body.events)
    except DestinationRefused as exc:
        raise Problem(
            422,
            "Webhook destination not allowed",
            f"url: {exc}",
            errors=[{"field": "url", "message": str(exc)}],
        ) from None
    return SubscriptionCreated(
        id=sub_id, account=body.account, url=redact_url(url), events=body.events, secret=secret
    )


@webhook_routes.get("/v1/admin/webhooks", response_model=list[SubscriptionView])
async def subscriptions(
    deps: Deps,
    _admin: Admin,
    account: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
) -> list[SubscriptionView]:
    """Subscriptions (without their secrets; URLs redacted)."""
    rows = await deps.admin.subscriptions(account)
    return [SubscriptionView(**{**row, "url": redact_url(row["url"])}) for row in rows]


@webhook_routes.delete("/v1/admin/webhooks/{subscription_id}", status_code=204)
async def unsubscribe(
    subscription_id: Annotated[str, PathParam(max_length=64, pattern=r"^wh_[0-9a-f]+$")],
    deps: Deps,
    _admin: Admin,
) -> None:
    """Disable a subscription: nothing new is sent to it; queued deliveries go dead."""
    if not await deps.admin.unsubscribe(subscription_id):
        raise Problem(404, "Not found", f"no active subscription {subscription_id}")


@template_routes.put("/v1/admin/templates/{account}/{name}", status_code=204)
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
    try:
        await deps.admin.put_template(account, name, body.subject, body.body)
    except UnknownTemplate:
        raise Problem(
            404, "Not found", f"no template {name!r}; have {', '.join(TEMPLATES)}"
        ) from None
    except TemplateError as exc:
        raise Problem(422, "Invalid template", str(exc)) from None


@dead_letter_routes.get("/v1/admin/dead-letters", response_model=list[NotificationView])
async def dead_letters(
    deps: Deps,
    _admin: Admin,
    account: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationView]:
    """Notifications that gave up (permanent failure or attempts exhausted)."""
    rows = await deps.admin.dead_letters(account, limit)
    return [NotificationView(**row) for row in rows]


@dead_letter_routes.post("/v1/admin/dead-letters/redeliver")
async def redeliver(body: RedeliverBody, deps: Deps, _admin: Admin) -> dict[str, int]:
    """Queue dead notifications again (attempts reset)."""
    return {"requeued": await deps.admin.redeliver(body.ids)}


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
    for routes in (log_routes, webhook_routes, template_routes, dead_letter_routes):
        app.include_router(routes)
    app.include_router(ops_router(app))
    return app
