"""`/healthz`, `/readyz` and `/metrics`: the routes every service serves (`services.common.ops`),
with intake's own Prometheus registry, refreshed from the running deps before each scrape."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from services.common import ops
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.entrypoints.metrics import Metrics


def ops_router(app: FastAPI, metrics: Metrics) -> APIRouter:
    async def refresh(deps: IntakeDeps) -> None:
        metrics.append_statements.set(deps.store.append_statements)
        if deps.tasks is not None:
            for name, task in deps.tasks.report().items():
                metrics.task_healthy.labels(name).set(0 if task["problem"] else 1)
                metrics.task_restarts.labels(name).set(task["restarts"])
        if deps.relay is not None:
            stats = await deps.relay.measure_lag()
            metrics.outbox_lag_events.set(stats.lag_events)
            metrics.outbox_lag_seconds.set(stats.lag_seconds)
            metrics.quarantine_open.set(stats.quarantine_open)
            metrics.held_events.set(stats.held_events)
            metrics.count_quarantined(stats.quarantined)

    return ops.ops_router(app, registry=metrics.registry, refresh=refresh, metrics_in_schema=False)
