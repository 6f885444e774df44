"""Health, readiness and metrics routes of the intake, escalation and notify APIs.

They read the app's running deps (set by its lifespan): `readiness()` answers `/readyz`
(together with the deps' optional `tasks`, the health of the background tasks: one that is
dead, failing or stuck makes the service not ready, and the body names it), and an optional
`refresh_metrics()` (or the router's `refresh(deps)`) updates gauges just before `/metrics`
is scraped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)

from services.common import tracing
from services.common.health import TaskRegistry

OUTBOX_PENDING = Gauge(
    "ticketflow_outbox_pending", "Records written but not yet published", ["service"]
)


# For `FastAPI(telemetry=...)`: each service's telemetry is its Prometheus `/metrics` (and its
# logs); FastAPI's native OpenTelemetry hook would otherwise look up the global OTel providers
# on every request (2.6 % of intake's request profile) with none configured.
NO_OTEL: Any = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def telemetry(service: str) -> Any:
    """`FastAPI(telemetry=...)` of `service`: FastAPI's own request telemetry off (the
    service's `RequestContext` middleware makes the request spans, far cheaper); configures
    tracing for `service` (export only when OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
    tracing.configure(service)
    return NO_OTEL


def ops_router(
    app: FastAPI,
    *,
    registry: CollectorRegistry = REGISTRY,
    refresh: Callable[[Any], Awaitable[None]] | None = None,
    metrics_in_schema: bool = True,
) -> APIRouter:
    """`/metrics` serves `registry`, after `refresh(deps)` (default: the deps' own
    `refresh_metrics()`, if they have one)."""
    router = APIRouter(tags=["operations"])

    def running() -> Any:
        return getattr(app.state, "deps", None)

    @router.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database and broker reachable, every background task healthy",
    )
    async def readyz() -> JSONResponse:
        deps = running()
        checks: dict[str, bool] = (
            dict(await deps.readiness()) if deps is not None else {"started": False}
        )
        body: dict[str, Any] = {"checks": checks}
        tasks: TaskRegistry | None = getattr(deps, "tasks", None)
        if tasks is not None:
            unhealthy = tasks.unhealthy()
            checks["tasks"] = not unhealthy
            body["unhealthy_tasks"] = unhealthy
            body["tasks"] = tasks.report()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **body},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=metrics_in_schema)
    async def metrics() -> Response:
        deps = running()
        if refresh is not None:
            await refresh(deps)
        else:
            own = getattr(deps, "refresh_metrics", None)
            if own is not None:
                await own()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
