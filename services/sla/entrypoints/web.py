"""HTTP pages of the SLA worker: the SLA read model, health, readiness, metrics.

`GET /v1/tickets/{ticket_id}/sla` is routed by Faust to the worker that owns the ticket's
partition, so any worker (or intake in front of them) can answer it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.sla.adapters.faust_io import FaustStateTable
from services.sla.adapters.metrics import SlaMetrics
from services.sla.domain import state_codec
from services.sla.domain.view import sla_view
from services.sla.domain.watermark import lag
from services.sla.entrypoints.tracker import SlaTracker

PROBLEM = "application/problem+json"


def _problem(web: Any, status: int, title: str, detail: str) -> Any:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.json(body, status=status, content_type=PROBLEM)


def register_pages(
    app: Any, table: Any, tracker: SlaTracker, store: FaustStateTable, metrics: SlaMetrics
) -> None:
    @app.page("/v1/tickets/{ticket_id}/sla")
    @app.table_route(table=table, match_info="ticket_id")
    async def ticket_sla(view: Any, request: Any, ticket_id: str) -> Any:
        """The ticket's SLA clocks, due times, remaining business time and pauses."""
        try:
            uuid.UUID(ticket_id)
        except ValueError:
            return _problem(view.web, 422, "Invalid ticket id", f"{ticket_id!r} is not a UUID")
        raw = store.get(ticket_id.encode())
        if raw is None:
            return _problem(
                view.web, 404, "Unknown ticket", f"no SLA state for ticket {ticket_id} (yet)"
            )
        tracked = state_codec.decode(raw, tracker.policies[state_codec.policy_of(raw)], ticket_id)
        return view.web.json(sla_view(tracked, datetime.now(UTC)))

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
        return view.web.bytes(
            generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0]
        )
