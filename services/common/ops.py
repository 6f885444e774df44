"""Health, readiness and metrics routes every HTTP service mounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

Readiness = Callable[[], Awaitable[dict[str, bool]]]


def ops_router(
    readiness: Callable[[], Readiness | None],
    before_metrics: Callable[[], Awaitable[None]] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> APIRouter:
    """`readiness` returns the check of the running app (None until its lifespan started)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker reachable")
    async def readyz() -> JSONResponse:
        check = readiness()
        checks = await check() if check is not None else {"started": False}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        if before_metrics is not None:
            await before_metrics()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
