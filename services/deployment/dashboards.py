"""The Grafana dashboards of ticketflow, generated from code as ConfigMaps for the Grafana
sidecar (it loads every ConfigMap labelled `grafana_dashboard: "1"`).

Each panel names its PromQL here, next to the others, so that `expressions()` can hand every
query to a drift test that checks the metric names against the services' live `/metrics`: a
renamed metric fails a test instead of leaving an empty panel. The label names in the queries
are the ones the services declare (`services/*/adapters/metrics.py`, `services/common/`).

Gauges that a service fills from a database count (outbox backlog, open escalations, queued
notifications) report the same number from every replica, so they are aggregated with `max`;
per-process gauges and counter rates are summed. Pure functions returning documents."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from services.deployment.header import HEADER

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_WIDTH = 12
PANEL_HEIGHT = 8
GRID_COLUMNS = 24
UID_MAX_LENGTH = 40
RATE = "5m"


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a panel and the legend of its series (Grafana's
    `legendFormat`: `{{label}}` stands for a label's value)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """A time-series panel; `unit` is a Grafana unit id (`ops`, `s`, `short`, `none`)."""

    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    name: str
    description: str
    panels: tuple[Panel, ...]

    @property
    def slug(self) -> str:
        """`ticketflow SLA outcomes` -> `sla-outcomes`."""
        words = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return words.removeprefix("ticketflow-")

    @property
    def uid(self) -> str:
        return f"ticketflow-{self.slug}"


def _quantiles(metric: str, by: str, label: str) -> tuple[Query, ...]:
    """p50 and p99 of a histogram, per value of `by` (one of the histogram's labels)."""
    buckets = f"sum by (le, {by}) (rate({metric}_bucket[{RATE}]))"
    return tuple(
        Query(f"histogram_quantile({q}, {buckets})", f"p{round(q * 100)} {label}")
        for q in (0.5, 0.99)
    )


PIPELINE = Dashboard(
    name="ticketflow pipeline overview",
    description="Throughput, lag and backlog from intake through the SLA worker to the outboxes",
    panels=(
        Panel(
            "Events per second by service",
            (
                Query(
                    f"sum by (service, topic) (rate(ticketflow_consumed_total[{RATE}]))",
                    "{{service}} <- {{topic}}",
                ),
                Query(
                    f"sum by (type) (rate(ticketflow_intake_events_total[{RATE}]))",
                    "intake wrote {{type}}",
                ),
                Query(
                    f"sum by (outcome) (rate(ticketflow_sla_ticket_events_total[{RATE}]))",
                    "sla {{outcome}}",
                ),
            ),
            unit="ops",
            description="Messages handled by the consumers, events written by intake, and "
            "ticket events the SLA worker consumed by outcome",
        ),
        Panel(
            "SLA consumer lag",
            (
                Query(
                    "max by (partition) (ticketflow_sla_consumer_lag)",
                    "partition {{partition}}",
                ),
            ),
            description="Records on each partition not yet processed by the SLA worker",
        ),
        Panel(
            "SLA watermark age",
            (
                Query(
                    "max by (instance) (ticketflow_sla_watermark_lag_seconds)",
                    "{{instance}}",
                ),
            ),
            unit="s",
            description="Wall clock minus the event store's horizon; breaches wait for it "
            "(-1 while the store gives none)",
        ),
        Panel(
            "Breach and warning lateness",
            _quantiles("ticketflow_sla_timer_lateness_seconds", "type", "{{type}}"),
            unit="s",
            description="Emit time minus deadline of timer-fired breaches and warnings",
        ),
        Panel(
            "SLA worker stages (p99)",
            (
                Query(
                    "histogram_quantile(0.99, sum by (le, stage) "
                    f"(rate(ticketflow_sla_batch_stage_seconds_bucket[{RATE}])))",
                    "{{stage}}",
                ),
                Query(
                    "histogram_quantile(0.99, sum by (le) "
                    f"(rate(ticketflow_sla_record_wait_seconds_bucket[{RATE}])))",
                    "record wait",
                ),
            ),
            unit="s",
            description="Where a ticket event's time goes in the SLA worker: from its broker "
            "timestamp to its batch (record wait), then per batch waiting for the timer loop, "
            "folding, publishing the SLA events, writing the states",
        ),
        Panel(
            "Outbox backlog",
            (
                Query("max by (service) (ticketflow_outbox_pending)", "{{service}}"),
                Query("max(ticketflow_outbox_lag_events)", "intake"),
            ),
            description="Records written but not yet published, per service's outbox",
        ),
        Panel(
            "Intake outbox age",
            (Query("max(ticketflow_outbox_lag_seconds)", "oldest unpublished"),),
            unit="s",
            description="Age of the oldest unpublished row of intake's outbox",
        ),
        Panel(
            "Dead letters",
            (
                Query(
                    f"sum by (topic, reason) (rate(ticketflow_dead_letters_total[{RATE}]))",
                    "{{topic}}: {{reason}}",
                ),
            ),
            unit="ops",
            description="Messages sent to a dead-letter topic by the shared consumer loop",
        ),
        Panel(
            "Background tasks up",
            (
                Query("min by (job, task) (ticketflow_task_up)", "{{job}} {{task}}"),
                Query("min by (task) (ticketflow_intake_task_healthy)", "intake {{task}}"),
            ),
            unit="none",
            description="1 while a supervised task runs and makes progress, 0 otherwise",
        ),
    ),
)

SLA_OUTCOMES = Dashboard(
    name="ticketflow SLA outcomes",
    description="What the SLA worker decided and what escalation made of it",
    panels=(
        Panel(
            "SLA events emitted by type",
            (
                Query(
                    'sum by (type) (rate(ticketflow_sla_emitted_total{type=~"sla[.].+"}'
                    f"[{RATE}]))",
                    "{{type}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Other records emitted by topic",
            (
                Query(
                    'sum by (type) (rate(ticketflow_sla_emitted_total{type!~"sla[.].+"}'
                    f"[{RATE}]))",
                    "{{type}}",
                ),
            ),
            unit="ops",
            description="Commands and dead letters the SLA worker sent, counted by topic",
        ),
        Panel(
            "Tickets tracked",
            (Query("sum(ticketflow_sla_tickets_tracked)", "tickets"),),
            description="Tickets whose SLA state the workers hold",
        ),
        Panel(
            "Escalations open",
            (Query("max by (status) (ticketflow_escalations_open)", "{{status}}"),),
        ),
        Panel(
            "Escalation events",
            (
                Query(
                    f"sum by (type) (rate(ticketflow_escalation_events_total[{RATE}]))",
                    "{{type}}",
                ),
            ),
            unit="ops",
        ),
    ),
)

NOTIFY_DELIVERY = Dashboard(
    name="ticketflow notify delivery",
    description="Notifications planned, attempted and delivered, per channel",
    panels=(
        Panel(
            "Delivery attempts by channel and result",
            (
                Query(
                    "sum by (channel, result) "
                    f"(rate(ticketflow_notification_attempts_total[{RATE}]))",
                    "{{channel}} {{result}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Delivery latency",
            _quantiles("ticketflow_notification_delivery_seconds", "channel", "{{channel}}"),
            unit="s",
            description="Time from logging a notification to its delivery",
        ),
        Panel(
            "Notifications by status",
            (Query("max by (status) (ticketflow_notifications)", "{{status}}"),),
            description="Notifications waiting or given up",
        ),
        Panel(
            "Notifications planned",
            (
                Query(
                    f"sum by (channel) (rate(ticketflow_notifications_planned_total[{RATE}]))",
                    "{{channel}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Template failures",
            (
                Query(
                    "sum by (template, reason) "
                    f"(rate(ticketflow_notify_template_failures_total[{RATE}]))",
                    "{{template}}: {{reason}}",
                ),
            ),
            unit="ops",
            description="Templates that failed at send time (account overrides fall back to "
            "the default)",
        ),
    ),
)

DASHBOARDS: tuple[Dashboard, ...] = (PIPELINE, SLA_OUTCOMES, NOTIFY_DELIVERY)


def _grid_pos(index: int) -> dict[str, int]:
    """Two panels per row, left to right, top to bottom."""
    per_row = GRID_COLUMNS // PANEL_WIDTH
    row, column = divmod(index, per_row)
    return {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": column * PANEL_WIDTH, "y": row * PANEL_HEIGHT}


def _ref_id(index: int) -> str:
    return chr(ord("A") + index)


def _panel_json(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": _grid_pos(index),
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [
            {
                "refId": _ref_id(number),
                "datasource": dict(DATASOURCE),
                "expr": query.expr,
                "legendFormat": query.legend,
            }
            for number, query in enumerate(panel.queries)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana dashboard model (as `Export > JSON` writes it) of `dashboard`."""
    if len(dashboard.uid) > UID_MAX_LENGTH:
        raise ValueError(f"dashboard uid {dashboard.uid!r} is longer than {UID_MAX_LENGTH}")
    return {
        "uid": dashboard.uid,
        "title": dashboard.name,
        "description": dashboard.description,
        "tags": ["ticketflow"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "options": [],
                }
            ]
        },
        "panels": [_panel_json(panel, index) for index, panel in enumerate(dashboard.panels)],
    }


def expressions() -> list[str]:
    """Every PromQL expression of every dashboard, in dashboard and panel order."""
    return [
        query.expr
        for dashboard in DASHBOARDS
        for panel in dashboard.panels
        for query in panel.queries
    ]


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'" r"|`[^`]*`")
_COMMENT = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_METRIC = re.compile(r"(?<![\w:])ticketflow_[A-Za-z0-9_:]*")


def metric_names(expression: str) -> set[str]:
    """The `ticketflow_` metric names `expression` uses, as written (a histogram's
    `..._bucket` stays so). Strings, comments, label matchers and the label lists of `by`,
    `on` and friends are skipped: a label value `"ticketflow_a"` names no metric."""
    text = _STRING.sub('""', expression)
    text = _COMMENT.sub("", text)
    text = _MATCHERS.sub("{}", text)
    text = _GROUPING.sub("", text)
    return set(_METRIC.findall(text))


def config_map(dashboard: Dashboard) -> dict[str, Any]:
    model = json.dumps(dashboard_json(dashboard), indent=2, sort_keys=True) + "\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"ticketflow-dashboard-{dashboard.slug}",
            "labels": {"grafana_dashboard": "1"},
            "annotations": {"grafana_folder": "ticketflow"},
        },
        "data": {f"{dashboard.slug}.json": model},
    }


def config_maps() -> list[dict[str, Any]]:
    """One ConfigMap per dashboard, labelled for the Grafana sidecar."""
    return [config_map(dashboard) for dashboard in DASHBOARDS]


def dashboards_yaml() -> str:
    """The ConfigMaps as one multi-document YAML file, with the generated-file header."""
    return HEADER + yaml.safe_dump_all(config_maps(), sort_keys=False, width=100)
