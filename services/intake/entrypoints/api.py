"""The intake HTTP API (`/v1`): tickets, their events, accounts; health and metrics.

`create_app` assembles the routers (one per resource), the error table (`errors.py`), the
limits and the request metrics; the use cases are in `service_layer/`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

from services.common import problems
from services.common.http_limits import install_limits
from services.common.http_settings import HttpSettings
from services.common.ops import telemetry
from services.common.problems import Problem
from services.common.request_context import RequestContext
from services.intake.adapters.outage import DATABASE_UNAVAILABLE, database_unavailable
from services.intake.entrypoints import errors
from services.intake.entrypoints.accounts_api import accounts_router
from services.intake.entrypoints.api_keys import api_keys_router
from services.intake.entrypoints.deps import IntakeDeps, require_admin, require_key
from services.intake.entrypoints.documented_headers import document_security
from services.intake.entrypoints.inbound_api import inbound_router
from services.intake.entrypoints.limits import RequestLimits
from services.intake.entrypoints.metrics import MeasureRequests, Metrics
from services.intake.entrypoints.ops_api import ops_router
from services.intake.entrypoints.responses import FastJSON
from services.intake.entrypoints.tickets_api import tickets_router


def operation_id(route: APIRoute) -> str:
    """An operation's id is its handler's name (`open_ticket`, `append_event`): what a
    generated client names its functions."""
    return route.name


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
        generate_unique_id_function=operation_id,
        telemetry=telemetry("intake"),
    )
    app.state.deps = deps
    metrics = Metrics()
    app.state.metrics = metrics
    problems.install(app)

    install_limits(app, "intake", http or HttpSettings())
    app.add_middleware(MeasureRequests, metrics=metrics)  # outermost: 413s are counted too
    app.add_middleware(RequestContext)
    document_security(app, require_key, require_admin)
    problems.document_problems(app)  # after the security: 401s go where a key is needed

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

    app.include_router(tickets_router(limits, metrics))
    app.include_router(inbound_router(limits, metrics))
    app.include_router(accounts_router(limits))
    app.include_router(api_keys_router(limits))
    app.include_router(ops_router(app, metrics))
    errors.install(app)
    return app
