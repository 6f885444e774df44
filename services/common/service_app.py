"""What the escalation and notify services share around their use cases: the settings every
consumer service reads (database, broker, readiness), its FastAPI app (problem details, the
OpenAPI security declarations, the HTTP limits), the dependency handing routes the running
app's deps, and the start of its lifespan (runtime up, database migrated)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from pydantic import AliasChoices, BaseModel, Field

from services.common import problems
from services.common.http_limits import install_limits
from services.common.http_settings import HttpSettings
from services.common.ops import telemetry
from services.common.request_context import RequestContext
from services.common.runtime import Runtime, migrate_until_done, running
from services.common.web_auth import app_deps, document_security

T = TypeVar("T")


class ConsumerServiceSettings(BaseModel):
    """Fields a consumer service's settings class inherits (as it inherits `HttpSettings`):
    the shared DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, where it listens, and when /readyz
    calls a background task stuck."""

    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "TICKETFLOW_DATABASE_URL")
    )
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "TICKETFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    )
    host: str = "127.0.0.1"
    stuck_after_s: float = Field(
        default=60.0, gt=0, description="/readyz: a background task silent this long is stuck"
    )


def service_app(
    service: str,
    description: str,
    *,
    lifespan: Any = None,
    http: HttpSettings | None = None,
    admin_prefix: str | None = None,
) -> FastAPI:
    """The app of `service`, before its routes: problem+json errors, the security each
    operation accepts (`web_auth.document_security`), the body limit and the per-API-key
    rate limit (`http`, defaults of `HttpSettings`). Add the ops router after the routes."""
    app = FastAPI(
        title=f"ticketflow {service}",
        license_info={"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        servers=[{"url": "/", "description": "The host serving this document"}],
        version="1",
        description=description,
        lifespan=lifespan,
        telemetry=telemetry(service),
    )
    problems.install(app)
    document_security(app, admin_prefix)
    install_limits(app, service, http or HttpSettings())
    app.add_middleware(RequestContext)
    return app


def deps_getter(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """The FastAPI dependency returning the running app's deps (a `kind`), 503 while the
    lifespan has not set them yet."""

    async def get_deps(request: Request) -> T:
        found: T = app_deps(request)
        return found

    return get_deps


@contextlib.asynccontextmanager
async def migrated_runtime(
    settings: ConsumerServiceSettings, package: str, lock_id: int, log: logging.Logger
) -> AsyncIterator[Runtime]:
    """The service's runtime (pool, producer, supervised tasks) with the migrations of
    `package` applied (waiting out a database that is not up yet)."""
    async with running(
        settings.database_url,
        settings.kafka_bootstrap_servers,
        stuck_after_s=settings.stuck_after_s,
    ) as rt:
        applied = await migrate_until_done(rt.pool, package, lock_id)
        log.info("database migrated (%s)", ", ".join(applied))
        yield rt
