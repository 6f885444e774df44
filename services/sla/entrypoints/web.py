"""HTTP pages of the SLA worker: the SLA read model, its OpenAPI document, health,
readiness, metrics.

`GET /v1/tickets/{ticket_id}/sla` needs an API key (its accounts' tickets only) or the
internal token. The worker that receives it authenticates the caller, then Faust's table
route forwards it (credentials included, see `table_routing`) to the worker owning the
ticket's partition, which authenticates it again, applies the key's rate limit once and
answers; another account's ticket is a 404 like an unknown one. `/healthz`, `/readyz`,
`/metrics` and `/openapi.json` stay open (probes, Prometheus). Request bounds and the
problem+json of aiohttp's own errors are `http_limits`' job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.rate_limit import RATE_LIMITED, RateLimiter, retry_after_header
from services.sla.adapters.api_key_store import KeyStoreUnavailable
from services.sla.adapters.faust_io import FaustStateTable
from services.sla.adapters.metrics import SlaMetrics
from services.sla.domain.view import sla_view
from services.sla.domain.watermark import lag
from services.sla.entrypoints import openapi
from services.sla.entrypoints.api_auth import Authenticator, Caller
from services.sla.entrypoints.problems import problem
from services.sla.service_layer.tracker import SlaTracker

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ticketflow-sla"'}


@dataclass(frozen=True, slots=True)
class ApiAccess:
    """Who may read the SLA view, and how often."""

    auth: Authenticator
    limiter: RateLimiter


async def _caller(access: ApiAccess, request: Any) -> Caller | Any:
    """The authenticated caller, or the problem response refusing the request."""
    try:
        caller = await access.auth.caller(request.headers)
    except KeyStoreUnavailable:
        return problem(
            503,
            "the API keys cannot be checked right now",
            instance=request.path,
            headers={"Retry-After": "2"},
        )
    if caller is None:
        return problem(
            401,
            "send an API key (`Authorization: Bearer tf_...` or `X-Api-Key`) or the internal token",
            instance=request.path,
            headers=CHALLENGE,
        )
    return caller


def register_pages(
    app: Any,
    table: Any,
    tracker: SlaTracker,
    store: FaustStateTable,
    metrics: SlaMetrics,
    access: ApiAccess,
) -> None:
    """The SLA view (authenticated, served by the partition's owner) and the open pages."""
    _view_pages(app, table, tracker, access)
    _open_pages(app, tracker, store, metrics)


def _view_pages(app: Any, table: Any, tracker: SlaTracker, access: ApiAccess) -> None:
    @app.page("/v1/tickets/{ticket_id}/sla")
    async def ticket_sla(view: Any, request: Any, ticket_id: str) -> Any:
        """The ticket's SLA clocks, due times, remaining business time and pauses."""
        caller = await _caller(access, request)
        if not isinstance(caller, Caller):
            return caller
        try:
            uuid.UUID(ticket_id)
        except ValueError:
            return problem(
                422,
                f"{ticket_id[:64]!r} is not a UUID",
                title="Invalid ticket id",
                instance=request.path,
            )
        return await owned(view, request, ticket_id=ticket_id, caller=caller)

    @app.table_route(table=table, match_info="ticket_id")
    async def owned(view: Any, request: Any, *, ticket_id: str, caller: Caller) -> Any:
        """On the worker owning the ticket's partition."""
        if caller.key_id is not None:
            wait = access.limiter.take(caller.key_id)
            if wait is not None:
                return problem(
                    429,
                    f"rate limit of this API key ({access.limiter.rate:g}/s) exhausted",
                    instance=request.path,
                    headers={"Retry-After": retry_after_header(wait)},
                )
        # The worker's own read: its newest decoded state, and an unreadable one rebuilt.
        tracked = tracker.load(ticket_id.encode())
        if tracked is None or not caller.may_read(tracked.account):
            return problem(
                404,
                f"no SLA state for ticket {ticket_id} (yet)",
                title="Unknown ticket",
                instance=request.path,
            )
        return view.web.json(sla_view(tracked, datetime.now(UTC)))


def _open_pages(app: Any, tracker: SlaTracker, store: FaustStateTable, metrics: SlaMetrics) -> None:
    """The OpenAPI document, probes and metrics: no credentials."""
    document = openapi.document()

    @app.page("/openapi.json")
    async def openapi_json(view: Any, request: Any) -> Any:
        return view.web.json(document)

    @app.page("/")
    async def root(view: Any, request: Any) -> Any:
        """Registered before Faust's production index (mounted at `/` whenever its statistics
        pages are off, with no setting of its own), so `/` is a 404 like any other path."""
        return problem(404, "no page here; see /openapi.json", instance=request.path)

    @app.page("/healthz")
    async def healthz(view: Any, request: Any) -> Any:
        return view.web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(view: Any, request: Any) -> Any:
        """Ready once the state of the assigned partitions is recovered and timers rebuilt."""
        if not tracker.ready.is_set() or app.rebalancing:
            return view.web.json({"status": "recovering"}, status=503)
        if tracker.timers_stuck():
            return view.web.json(
                {"status": "failing", "unhealthy_tasks": {"timers": "stuck"}}, status=503
            )
        return view.web.json(
            {
                "status": "ready",
                "partitions": sorted(tracker.assigned),
                "reconciled": tracker.reconciled.is_set(),
                "reconciliation": tracker.last_reconciliation,
            }
        )

    @app.page("/metrics")
    async def prometheus(view: Any, request: Any) -> Any:
        metrics.timers.set(len(tracker.timers))
        metrics.tickets.set(len(store))
        for partition in sorted(tracker.assigned):
            progress = tracker.progress.get(partition)
            behind = lag(
                tracker.offsets.highwater(partition),
                progress.next_offset if progress else None,
                tracker.offsets.committed(partition),
            )
            if behind is not None:
                metrics.lag.labels(str(partition)).set(behind)
        exposition = generate_latest(metrics.registry) + generate_latest(RATE_LIMITED)
        return view.web.bytes(exposition, content_type=CONTENT_TYPE_LATEST.split(";")[0])
