"""`/healthz`, `/readyz` and `/metrics`: probes and Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.intake.entrypoints.deps import Deps
from services.intake.entrypoints.metrics import Metrics


def ops_router(metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
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

    @router.get("/metrics", include_in_schema=False)
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

    return router
