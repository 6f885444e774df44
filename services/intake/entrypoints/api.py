"""The intake HTTP API (`/v1`): tickets, their events, accounts; health and metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Body, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from services.common import problems
from services.common.api_keys import ApiKey
from services.common.http_limits import install_limits
from services.common.http_settings import HttpSettings
from services.common.ops import NO_OTEL
from services.common.problems import Problem
from services.intake.adapters.accounts import AccountExists, UnknownAccount
from services.intake.adapters.event_store import TicketNotFound, VersionConflict
from services.intake.adapters.idempotency import request_hash
from services.intake.adapters.outage import DATABASE_UNAVAILABLE, database_unavailable
from services.intake.adapters.sla_client import SlaUnavailable
from services.intake.domain.event_checks import EventRefused, check_event
from services.intake.domain.inbound_email import parse_subject, strip_reply_prefixes
from services.intake.domain.lifecycle import TransitionRefused
from services.intake.domain.opening import OpenTicket, Refusal, decide_open, event_time
from services.intake.domain.ticket_number import find_in, new_ticket_number
from services.intake.domain.tickets import TicketRow
from services.intake.entrypoints import schemas
from services.intake.entrypoints.api_keys import api_keys_router
from services.intake.entrypoints.deps import (
    Admin,
    Deps,
    IntakeDeps,
    Key,
    require_admin,
    require_key,
)
from services.intake.entrypoints.documented_headers import (
    CONDITIONAL,
    IDEMPOTENCY_KEY,
    IDEMPOTENT,
    IF_MATCH,
    document_security,
)
from services.intake.entrypoints.limits import RequestLimits, check_escalation_hours
from services.intake.entrypoints.request_headers import parse_idempotency_key, parse_if_match
from shared.events import Envelope
from shared.policy import Policy


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ticketflow_intake_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ticketflow_intake_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.events = Counter(
            "ticketflow_intake_events_total", "Events written", ["type"], registry=self.registry
        )
        self.outbox_lag_events = Gauge(
            "ticketflow_outbox_lag_events", "Unpublished outbox rows", registry=self.registry
        )
        self.append_statements = Gauge(
            "ticketflow_intake_append_statements",
            "Statements that wrote appended events since start (group commit: events written "
            "per statement = ticketflow_intake_events_total / this)",
            registry=self.registry,
        )
        self.outbox_lag_seconds = Gauge(
            "ticketflow_outbox_lag_seconds",
            "Age of the oldest unpublished outbox row",
            registry=self.registry,
        )
        self.quarantined = Counter(
            "ticketflow_outbox_quarantined",
            "Outbox records the broker refused for good, moved to the quarantine by this "
            "process's relay",
            registry=self.registry,
        )
        self.quarantine_open = Gauge(
            "ticketflow_outbox_quarantine_open",
            "Quarantined outbox records not yet retried or dropped",
            registry=self.registry,
        )
        self.held_events = Gauge(
            "ticketflow_outbox_held_events",
            "Unpublished events of tickets with an open quarantine entry (held back so that "
            "no ticket is published past a hole)",
            registry=self.registry,
        )
        self.task_healthy = Gauge(
            "ticketflow_intake_task_healthy",
            "1 while a background task runs and makes progress, 0 when dead, failing or stuck",
            ["task"],
            registry=self.registry,
        )
        self.task_restarts = Gauge(
            "ticketflow_intake_task_restarts",
            "Restarts of a background task after it crashed",
            ["task"],
            registry=self.registry,
        )
        self._quarantined_seen = 0

    def count_quarantined(self, total: int) -> None:
        """Bring the counter up to the relay's running total."""
        if total > self._quarantined_seen:
            self.quarantined.inc(total - self._quarantined_seen)
            self._quarantined_seen = total


class FastJSON(JSONResponse):
    """JSON rendered with orjson (the stdlib encoder showed up in the request profile)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class MeasureRequests:
    """Request count and latency per route, as plain ASGI middleware (Starlette's
    `BaseHTTPMiddleware` costs a task and stream copies per request)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - began)
            self.metrics.requests.labels(method, route, str(status)).inc()


def _view(row: TicketRow) -> schemas.TicketView:
    return schemas.TicketView(
        ticket_id=row.ticket_id,
        account=row.account_id,
        number=row.number,
        policy=row.policy,
        priority=row.priority,
        plan=row.plan,
        status=row.status,
        resolution=row.resolution,
        closed_reason=row.closed_reason,
        version=row.version,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
    )


def override_refusal(policy: Policy, unusable: list[str]) -> str:
    """Why `policy` would never use the account's targets for the `unusable` metrics."""
    reasons = [
        f"{policy.id} {'sets' if metric in policy.metrics else 'has no'} {metric}"
        + (" from its own targets" if metric in policy.metrics else " clock")
        for metric in unusable
    ]
    usable = policy.order_metrics()
    return (
        "; ".join(reasons)
        + ", so the override would never be used; "
        + (
            f"only {', '.join(usable)} can come from the account's order"
            if usable
            else f"{policy.id} takes no target from the account's order"
        )
    )


async def _idempotent(
    request: Request,
    deps: IntakeDeps,
    key: ApiKey,
    status: int,
    handler: Callable[[], Awaitable[Any]],
) -> JSONResponse:
    """Run `handler` once per Idempotency-Key; replay its stored response afterwards."""
    idempotency_key = parse_idempotency_key(request.headers.get(IDEMPOTENCY_KEY))
    if idempotency_key is None:
        body = await handler()
        return FastJSON(body, status_code=status)
    digest = request_hash(request.method, request.url.path, await request.body())
    stored = await deps.idempotency.reserve(key.id, idempotency_key, digest)
    if stored is not None:
        if stored.request_hash != digest:
            raise Problem(
                422,
                "Idempotency key reused",
                "this Idempotency-Key was used for a different request",
            )
        if stored.status == 0:
            raise Problem(
                409,
                "Request in progress",
                "a request with this Idempotency-Key is still being processed",
            )
        return JSONResponse(
            stored.body,
            status_code=stored.status,
            headers={"Idempotent-Replayed": "true"},
            media_type=problems.PROBLEM if stored.status >= 400 else None,
        )
    try:
        body = await handler()
    except Problem as problem:
        if problem.status < 500:
            await deps.idempotency.complete(
                key.id, idempotency_key, problem.status, problem.body(request.url.path)
            )
        else:
            await deps.idempotency.release(key.id, idempotency_key)
        raise
    except Exception:
        await deps.idempotency.release(key.id, idempotency_key)
        raise
    await deps.idempotency.complete(key.id, idempotency_key, status, body)
    return FastJSON(body, status_code=status)


async def _open(deps: IntakeDeps, metrics: Metrics, command: OpenTicket) -> schemas.TicketCreated:
    """Decide and store a new ticket; Problem(422) when the policy refuses it."""
    account = await deps.accounts.get(command.account)
    policy = deps.policies[account.policy_id]
    for _attempt in range(3):
        try:
            envelope = decide_open(
                command,
                account,
                policy,
                now=deps.clock(),
                ticket_id=deps.new_ticket_id(),
                number=new_ticket_number(deps.random_digits),
            )
        except Refusal as refusal:
            named: dict[str, Any] = {"field": refusal.field} if refusal.field else {}
            raise Problem(422, "Ticket refused", str(refusal), policy=policy.ref, **named) from None
        try:
            recorded = await deps.store.open_ticket(envelope)
            break
        except asyncpg.UniqueViolationError:
            continue  # a ticket number collision: draw another
    else:
        raise Problem(503, "Try again", "could not allocate a ticket number")
    metrics.events.labels("ticket.opened").inc()
    data = recorded.data
    return schemas.TicketCreated(
        ticket_id=uuid.UUID(recorded.subject),
        number=data["ticket_number"],
        version=1,
        status="open",
        policy=recorded.policy,
        priority=data["priority"],
        plan=data.get("plan"),
        flags=data.get("flags", []),
        occurred_at=recorded.time,
    )


def _received_at(body: schemas.InboundEmailBody, now: datetime) -> datetime:
    try:
        return event_time(body.received_at, now, "received_at")
    except Refusal as refusal:
        raise Problem(422, "Invalid event time", str(refusal), field="received_at") from None


async def _reply(
    deps: IntakeDeps,
    metrics: Metrics,
    key: ApiKey,
    ticket: TicketRow,
    sender: str,
    body: schemas.InboundEmailBody,
) -> dict[str, Any]:
    """An emailed reply: `customer_replied`, or a public comment once the ticket is closed."""
    account = await deps.accounts.get(ticket.account_id)
    if not account.approves(sender):
        raise Problem(
            422, "Sender not approved", f"{sender} is not an approved contact of {account.id}"
        )
    closed = ticket.status == "closed"
    kind = "ticket.comment_added" if closed else "ticket.customer_replied"
    data: dict[str, Any] = (
        {"body": body.body or "(empty message)", "public": True}
        if closed
        else {"body": body.body, "contact": sender}
    )
    at = _received_at(body, deps.clock())

    def build(row: TicketRow) -> Envelope:
        return row.next_event(kind, at, data)

    try:
        recorded, _ = await deps.store.append_with_status(
            ticket.ticket_id, build, accounts=key.accounts
        )
    except TransitionRefused as refused:
        raise Problem(422, "Transition refused", str(refused)) from None
    metrics.events.labels(kind).inc()
    return {
        "action": "commented" if closed else "replied",
        "ticket_id": str(ticket.ticket_id),
        "number": ticket.number,
        "version": recorded.sequence,
    }


def create_app(
    deps: IntakeDeps,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    *,
    limits: RequestLimits | None = None,
    retry_after: int = 5,
    http: HttpSettings | None = None,
) -> FastAPI:
    """`limits`: text sizes (defaults of `RequestLimits`); `retry_after`: the seconds a 503
    asks a client to wait while the database is unreachable; `http`: the body limit and the
    per-key rate limit (defaults of `HttpSettings`)."""
    limits = limits or RequestLimits()
    app = FastAPI(
        title="ticketflow intake",
        license_info={"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        servers=[{"url": "/", "description": "The host serving this document"}],
        version="1",
        description="Open support tickets and post their events. Every request is scoped to the "
        "accounts of its API key; errors are `application/problem+json`.\n\n"
        "Limits (configurable per deployment): a request body over 256 KiB is a 413; one header "
        "over 8 KiB or all headers over 32 KiB a 400 naming the header; headers not complete "
        "within 10 s or a body within 30 s of its headers a 408; an API key over its request "
        "rate a 429 with `Retry-After` (off unless the deployment sets a rate). Admins manage "
        "keys under `/v1/admin/api-keys` (list, rotate with a grace period, revoke).",
        lifespan=lifespan,
        default_response_class=FastJSON,
        telemetry=NO_OTEL,
    )
    app.state.deps = deps
    metrics = Metrics()
    app.state.metrics = metrics
    problems.install(app)

    install_limits(app, "intake", http or HttpSettings())
    app.add_middleware(MeasureRequests, metrics=metrics)  # outermost: 413s are counted too
    document_security(app, require_key, require_admin)

    async def database_down(request: Request, exc: Exception) -> Response:
        """503 + Retry-After while PostgreSQL is unreachable (the request changed nothing
        that a retry would duplicate: an append's event and outbox row are one statement)."""
        if not database_unavailable(exc):
            raise exc
        problem = Problem(
            503,
            "Service unavailable",
            "the event store is unreachable; retry after the time in Retry-After",
            retry_after_seconds=retry_after,
        )
        return problems.problem_response(problem, request, {"Retry-After": str(retry_after)})

    for unavailable in (*DATABASE_UNAVAILABLE, asyncpg.InterfaceError):
        app.add_exception_handler(unavailable, database_down)

    # --- tickets ----------------------------------------------------------------------------

    @app.post(
        "/v1/tickets",
        status_code=201,
        response_model=schemas.TicketCreated,
        tags=["tickets"],
        summary="Open a ticket",
        openapi_extra=IDEMPOTENT,
    )
    async def open_ticket(
        body: schemas.OpenTicketBody, request: Request, deps: Deps, key: Key
    ) -> JSONResponse:
        limits.check_text(body)

        async def handle() -> dict[str, Any]:
            if body.account not in key.accounts:
                raise Problem(404, "Not found", f"no account {body.account!r}")
            command = OpenTicket(
                account=body.account,
                contact=body.contact,
                channel=body.channel.value,
                priority=body.priority,
                subject=body.subject,
                description=body.description,
                plan=body.plan,
                occurred_at=body.occurred_at,
                spam=body.spam,
            )
            created = await _open(deps, metrics, command)
            return created.model_dump(mode="json")

        return await _idempotent(request, deps, key, 201, handle)

    @app.post(
        "/v1/tickets/{ticket_id}/events",
        status_code=201,
        response_model=schemas.EventAppended,
        tags=["tickets"],
        summary="Append an event to a ticket",
        responses={
            409: {"description": "If-Match version is stale"},
            422: {"description": "Event makes no sense for the ticket's state"},
        },
        openapi_extra=CONDITIONAL,
    )
    async def append_event(
        ticket_id: uuid.UUID,
        body: Annotated[schemas.AppendEventBody, Body(openapi_examples=schemas.APPEND_EXAMPLES)],
        request: Request,
        deps: Deps,
        key: Key,
    ) -> JSONResponse:
        expected = parse_if_match(request.headers.get(IF_MATCH))
        limits.check_text(body)
        data = body.data.model_dump(mode="json", exclude_unset=True)

        async def handle() -> dict[str, Any]:
            now = deps.clock()
            try:
                at = event_time(body.occurred_at, now)
            except Refusal as refusal:
                raise Problem(
                    422, "Invalid event time", str(refusal), field="occurred_at"
                ) from None

            def build(ticket: TicketRow) -> Envelope:
                # the pinned policy's id; a newer version of it stands in for a retired one
                policy = deps.policies.get(ticket.policy.partition("@")[0])
                if policy is not None:
                    check_event(policy, ticket, body.type, data)
                return ticket.next_event(body.type, at, data)

            try:
                recorded, status = await deps.store.append_with_status(
                    ticket_id, build, expected, accounts=key.accounts
                )
            except VersionConflict as conflict:
                raise Problem(
                    409,
                    "Version conflict",
                    str(conflict),
                    headers={"ETag": f'"{conflict.current}"'},
                    current_version=conflict.current,
                ) from None
            except TransitionRefused as refused:
                raise Problem(422, "Transition refused", str(refused)) from None
            except EventRefused as refused:
                raise Problem(
                    422, "Invalid event data", str(refused), field=refused.field
                ) from None
            metrics.events.labels(body.type).inc()
            return schemas.EventAppended(
                event_id=recorded.id,
                ticket_id=ticket_id,
                type=recorded.type,
                version=recorded.sequence,
                status=status,
                recorded_at=recorded.recorded_at,
            ).model_dump(mode="json")

        return await _idempotent(request, deps, key, 201, handle)

    @app.post(
        "/v1/inbound/email",
        status_code=201,
        response_model=schemas.InboundEmailResult,
        tags=["tickets"],
        summary="A parsed email from the email gateway",
        openapi_extra=IDEMPOTENT,
    )
    async def inbound_email(
        body: schemas.InboundEmailBody, request: Request, deps: Deps, key: Key
    ) -> JSONResponse:
        """A reply (ticket number in the subject) becomes `ticket.customer_replied`; anything
        else opens a ticket for the account whose approved contact sent it."""
        limits.check_text(body)

        async def handle() -> dict[str, Any]:
            _received_at(body, deps.clock())
            sender = body.sender.strip().lower()
            subject = strip_reply_prefixes(body.subject)
            number = find_in(subject)
            ticket = await deps.store.ticket_by_number(number) if number else None
            if ticket is not None and ticket.account_id in key.accounts:
                return await _reply(deps, metrics, key, ticket, sender, body)
            matching = await deps.accounts.accounts_approving(sender, key.accounts)
            if not matching:
                raise Problem(
                    422,
                    "Sender not approved",
                    f"{sender} is not an approved contact of any account this "
                    "gateway serves; no ticket was opened",
                )
            if len(matching) > 1:
                raise Problem(
                    422,
                    "Ambiguous sender",
                    f"{sender} is a contact of several accounts: {', '.join(matching)}",
                )
            account = await deps.accounts.get(matching[0])
            policy = deps.policies[account.policy_id]
            parsed = parse_subject(subject, policy)
            priority = parsed.priority or policy.default_priority or policy.priorities[-1]
            description = body.body
            if parsed.customer or parsed.location:
                description = (
                    f"Customer: {parsed.customer}\nLocation: {parsed.location}\n\n{body.body}"
                )
            created = await _open(
                deps,
                metrics,
                OpenTicket(
                    account=account.id,
                    contact=sender,
                    channel="email",
                    priority=priority,
                    subject=parsed.issue,
                    description=description,
                    occurred_at=body.received_at,
                    spam=body.spam,
                ),
            )
            return {
                "action": "opened",
                "ticket_id": str(created.ticket_id),
                "number": created.number,
                "version": 1,
            }

        return await _idempotent(request, deps, key, 201, handle)

    @app.get("/v1/tickets/{ticket_id}", response_model=schemas.TicketView, tags=["tickets"])
    async def get_ticket(ticket_id: uuid.UUID, deps: Deps, key: Key) -> JSONResponse:
        row = await deps.store.ticket(ticket_id, key.accounts)
        return JSONResponse(
            _view(row).model_dump(mode="json"), headers={"ETag": f'"{row.version}"'}
        )

    @app.get(
        "/v1/tickets/{ticket_id}/events",
        tags=["tickets"],
        summary="The ticket's history (CloudEvents, structured JSON)",
    )
    async def get_history(ticket_id: uuid.UUID, deps: Deps, key: Key) -> list[dict[str, Any]]:
        await deps.store.ticket(ticket_id, key.accounts)
        return [
            {"specversion": "1.0", **env.model_dump(mode="json", exclude_none=True)}
            for env in await deps.store.history(ticket_id)
        ]

    @app.get(
        "/v1/tickets/{ticket_id}/sla",
        tags=["tickets"],
        summary="The ticket's SLA clocks: status, due times, remaining business time, pauses",
        responses={
            404: {"description": "No such ticket, or the SLA service has not processed it yet"},
            503: {"description": "The SLA service is not reachable"},
        },
    )
    async def get_sla(ticket_id: uuid.UUID, deps: Deps, key: Key) -> dict[str, Any]:
        await deps.store.ticket(ticket_id, key.accounts)
        if deps.sla is None:
            raise Problem(503, "SLA unavailable", "this intake has no TICKETFLOW_SLA_URL set")
        try:
            view = await deps.sla.view(ticket_id)
        except SlaUnavailable as exc:
            raise Problem(503, "SLA unavailable", str(exc)) from exc
        if view is None:
            raise Problem(
                404,
                "SLA not yet available",
                "the SLA service has not processed this ticket yet; retry in a moment",
            )
        return view

    @app.get("/v1/tickets", response_model=schemas.TicketPage, tags=["tickets"])
    async def list_tickets(
        deps: Deps,
        key: Key,
        account: Annotated[str | None, Query(pattern=schemas.NO_NUL)] = None,
        status: Annotated[str | None, Query(pattern=schemas.NO_NUL)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        after: Annotated[str | None, Query(pattern=schemas.NO_NUL)] = None,
    ) -> schemas.TicketPage:
        if account is not None and account not in key.accounts:
            raise Problem(404, "Not found", f"no account {account!r}")
        scope = frozenset({account}) if account else key.accounts
        rows = await deps.store.list_tickets(scope, status, limit, after)
        return schemas.TicketPage(
            items=[_view(r) for r in rows],
            next_after=rows[-1].number if len(rows) == limit else None,
        )

    # --- accounts (admin) ---------------------------------------------------------------------

    @app.post("/v1/admin/accounts", status_code=201, tags=["admin"])
    async def create_account(
        body: schemas.CreateAccountBody, deps: Deps, _admin: Admin
    ) -> dict[str, Any]:
        limits.check_text(body)
        policy = deps.policies.get(body.policy)
        if policy is None:
            raise Problem(
                422,
                "Unknown policy",
                f"no policy {body.policy!r}; have {', '.join(sorted(deps.policies))}",
            )
        if body.plan is not None and body.plan not in policy.plans and body.plan != "none":
            raise Problem(
                422, "Unknown plan", f"{policy.id} plans are {', '.join(policy.plans) or 'none'}"
            )
        unusable = sorted(set(body.target_overrides) - set(policy.order_metrics()))
        if unusable:
            raise Problem(
                422,
                "Unusable target override",
                override_refusal(policy, unusable),
                field=f"target_overrides.{unusable[0]}",
            )
        try:
            check_escalation_hours(policy.escalation_with(body.escalation))
        except ValueError as exc:
            raise Problem(422, "Invalid escalation matrix", str(exc)) from None
        try:
            await deps.accounts.create(
                body.id,
                body.name,
                body.policy,
                body.plan,
                body.entitled_from,
                body.entitled_until,
                body.target_overrides,
                body.escalation,
            )
        except AccountExists:
            raise Problem(409, "Account exists", f"account {body.id!r} already exists") from None
        return {"id": body.id, "policy": policy.ref}

    @app.post("/v1/admin/accounts/{account_id}/contacts", status_code=201, tags=["admin"])
    async def add_contact(
        account_id: Annotated[str, Path(pattern=schemas.NO_NUL)],
        body: schemas.ContactBody,
        deps: Deps,
        _admin: Admin,
    ) -> dict[str, Any]:
        await deps.accounts.add_contact(account_id, body.email, body.role, body.name, body.level)
        return {"account": account_id, "email": body.email.lower(), "role": body.role}

    app.include_router(api_keys_router(limits))

    @app.exception_handler(TicketNotFound)
    async def _not_found(request: Request, exc: TicketNotFound) -> JSONResponse:
        return problems.problem_response(Problem(404, "Not found", "no such ticket"), request)

    @app.exception_handler(UnknownAccount)
    async def _no_account(request: Request, exc: UnknownAccount) -> JSONResponse:
        return problems.problem_response(Problem(404, "Not found", f"no account {exc}"), request)

    # --- operations ---------------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(deps: Deps) -> JSONResponse:
        checks = await deps.readiness()
        report: dict[str, Any] = {}
        if deps.tasks is not None:
            report = deps.tasks.report()
            checks.update({name: task["healthy"] for name, task in report.items()})
        ready = all(checks.values())
        return JSONResponse(
            {"ready": ready, "checks": checks, "tasks": report},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics_endpoint(deps: Deps) -> Response:
        metrics.append_statements.set(deps.store.append_statements)
        if deps.tasks is not None:
            for name, task in deps.tasks.report().items():
                metrics.task_healthy.labels(name).set(1 if task["healthy"] else 0)
                metrics.task_restarts.labels(name).set(task["restarts"])
        if deps.relay is not None:
            stats = await deps.relay.measure_lag()
            metrics.outbox_lag_events.set(stats.lag_events)
            metrics.outbox_lag_seconds.set(stats.lag_seconds)
            metrics.quarantine_open.set(stats.quarantine_open)
            metrics.held_events.set(stats.held_events)
            metrics.count_quarantined(stats.quarantined)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
