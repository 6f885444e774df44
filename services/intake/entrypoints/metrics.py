"""Intake's Prometheus metrics, and the ASGI middleware that counts and times requests."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
