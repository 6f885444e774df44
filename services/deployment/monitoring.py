"""The generated monitoring of `deploy/k8s/base/`: a Prometheus Operator `ServiceMonitor` per
service, and one `PrometheusRule` holding the services' SLO recording rules and the alerts a
platform team pages on, each with a runbook section in `deploy/k8s/README.md`. Pure data.

`rule_groups()` is the rule file's content, shared by the `PrometheusRule` and by
`promtool test rules` (tests/integration/test_alert_rules.py), so the rules tested are the
rules shipped. `expressions()` lists every expression, for the test that each metric it names
is served by some service's `/metrics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVICES = ("intake", "sla", "escalation", "notify", "billing", "console")
RUNBOOK = "deploy/k8s/README.md"
"""Where the runbooks are, in this repository (an overlay can patch in its own URL)."""
BREACH_LATENESS_BOUND_S = 1.0
"""A breach is emitted within this of its deadline at p99 (the `sla_timers` benchmark's
target; the chaos suite measures 55 ms without a fault)."""


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str
    """The anchor of its section in deploy/k8s/README.md."""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recording:
    record: str
    expr: str


RECORDINGS = (
    Recording(
        "ticketflow:intake_availability:ratio_rate5m",
        'sum(rate(ticketflow_intake_requests_total{status!~"5.."}[5m])) '
        "/ sum(rate(ticketflow_intake_requests_total[5m]))",
    ),
    Recording(
        "ticketflow:intake_request_seconds:p99_5m",
        "histogram_quantile(0.99, sum by (le) "
        "(rate(ticketflow_intake_request_seconds_bucket[5m])))",
    ),
    Recording(
        "ticketflow:sla_breach_lateness_seconds:p99_10m",
        "histogram_quantile(0.99, sum by (le) "
        "(rate(ticketflow_sla_timer_lateness_seconds_bucket[10m])))",
    ),
    Recording(
        "ticketflow:notify_delivery_seconds:p99_10m",
        "histogram_quantile(0.99, sum by (le, channel) "
        "(rate(ticketflow_notification_delivery_seconds_bucket[10m])))",
    ),
    Recording(
        "ticketflow:consumed:rate5m",
        "sum by (service, topic, outcome) (rate(ticketflow_consumed_total[5m]))",
    ),
)

ALERTS = (
    Alert(
        "TicketflowTargetDown",
        'up{job=~"ticketflow-.*"} == 0',
        "3m",
        "critical",
        "{{ $labels.job }} on {{ $labels.instance }} is not answering /metrics",
        "Prometheus cannot scrape the pod: it is down, restarting or its port is blocked.",
        "ticketflowtargetdown",
    ),
    Alert(
        "TicketflowSlaWatermarkStalled",
        "max by (pod) (ticketflow_sla_watermark_lag_seconds) > 120",
        "5m",
        "critical",
        "The SLA worker's event-store horizon is {{ $value | humanizeDuration }} behind",
        "Breaches wait for the horizon: none is faked, but they are late while it stalls "
        "(PostgreSQL unreachable, a writer transaction left open).",
        "ticketflowslawatermarkstalled",
    ),
    Alert(
        "TicketflowBreachLatenessHigh",
        "histogram_quantile(0.99, sum by (le) "
        "(rate(ticketflow_sla_timer_lateness_seconds_bucket[10m]))) "
        f"> {BREACH_LATENESS_BOUND_S:g}",
        "10m",
        "critical",
        "Breaches and warnings fire {{ $value | humanizeDuration }} after their deadline (p99)",
        f"The promise is within {BREACH_LATENESS_BOUND_S:g} s of the deadline at p99.",
        "ticketflowbreachlatenesshigh",
    ),
    Alert(
        "TicketflowConsumerLagGrowing",
        "sum by (service, topic) (ticketflow_consumer_lag) > 100 "
        "and sum by (service, topic) (delta(ticketflow_consumer_lag[10m])) > 0",
        "10m",
        "warning",
        "{{ $labels.service }} is {{ $value }} records behind on {{ $labels.topic }}, "
        "and falling further",
        "The consumer handles records slower than they arrive, or is stuck on one.",
        "ticketflowconsumerlaggrowing",
    ),
    Alert(
        "TicketflowSlaConsumerLagGrowing",
        "sum (ticketflow_sla_consumer_lag) > 100 "
        "and sum (delta(ticketflow_sla_consumer_lag[10m])) > 0",
        "10m",
        "warning",
        "The SLA workers are {{ $value }} ticket events behind, and falling further",
        "A response in the topic still prevents the breach (the store is the truth), but "
        "clocks shown and warnings lag.",
        "ticketflowslaconsumerlaggrowing",
    ),
    Alert(
        "TicketflowDeadLettersGrowing",
        # A (topic, reason) series exists from its first dead letter on, so the first one is
        # the series appearing (increase() sees no rise from nothing to 1).
        "sum by (topic, reason) (increase(ticketflow_dead_letters_total[15m])) > 0 "
        "or sum by (topic, reason) "
        "(ticketflow_dead_letters_total unless ticketflow_dead_letters_total offset 15m)",
        "0m",
        "warning",
        "Records from {{ $labels.topic }} go to its dead-letter topic ({{ $labels.reason }})",
        "A producer sends records a consumer cannot read; they are kept, not lost.",
        "ticketflowdeadlettersgrowing",
    ),
    Alert(
        "TicketflowOutboxBacklog",
        "max by (service) (ticketflow_outbox_pending) > 1000 or label_replace("
        'max (ticketflow_outbox_lag_events), "service", "intake", "", "") > 1000',
        "10m",
        "warning",
        "{{ $labels.service }} has {{ $value }} outbox records not yet published",
        "The relay cannot publish to Kafka as fast as events are written, or not at all.",
        "ticketflowoutboxbacklog",
    ),
    Alert(
        "TicketflowOutboxBehind",
        "max (ticketflow_outbox_lag_seconds) > 60",
        "5m",
        "critical",
        "Intake's oldest unpublished event is {{ $value | humanizeDuration }} old",
        "Accepted events are safe in PostgreSQL but the other services do not see them.",
        "ticketflowoutboxbehind",
    ),
    Alert(
        "TicketflowOutboxQuarantined",
        "max (ticketflow_outbox_quarantine_open) > 0",
        "0m",
        "warning",
        "{{ $value }} intake records the broker will not take are quarantined",
        "Those tickets' later events wait behind them in the outbox, in order.",
        "ticketflowoutboxquarantined",
    ),
    Alert(
        "TicketflowNotifyDeadLetters",
        'max (ticketflow_notifications{status="dead"}) '
        '- max (min_over_time(ticketflow_notifications{status="dead"}[15m])) > 0',
        "0m",
        "warning",
        "Notify gave up on {{ $value }} notifications in 15 minutes",
        "Deliveries that exhausted their retries; `ticketflow notify redeliver` sends them again.",
        "ticketflownotifydeadletters",
    ),
    Alert(
        "TicketflowTaskDown",
        "min by (pod, task) (ticketflow_task_up) == 0 "
        "or min by (pod, task) (ticketflow_intake_task_healthy) == 0",
        "2m",
        "critical",
        "Background task {{ $labels.task }} is down on {{ $labels.pod }}",
        "A loop inside the process (consumer, relay, timer, delivery) failed and is retrying.",
        "ticketflowtaskdown",
    ),
    Alert(
        "TicketflowBillingLedgerBehind",
        'sum (ticketflow_consumer_lag{service="billing"}) > 500',
        "15m",
        "warning",
        "Billing is {{ $value }} records behind the ticket and SLA events",
        "Charges and prepaid balances lag what happened; nothing is lost.",
        "ticketflowbillingledgerbehind",
    ),
)


def _alert_rule(alert: Alert) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": alert.expr,
        "for": alert.for_,
        "labels": {"severity": alert.severity, **alert.labels},
        "annotations": {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": f"{RUNBOOK}#{alert.runbook}",
        },
    }


def rule_groups() -> dict[str, Any]:
    """The rules as a Prometheus rule file (`groups:`)."""
    return {
        "groups": [
            {
                "name": "ticketflow-slo",
                "interval": "1m",
                "rules": [{"record": r.record, "expr": r.expr} for r in RECORDINGS],
            },
            {"name": "ticketflow-alerts", "rules": [_alert_rule(a) for a in ALERTS]},
        ]
    }


def expressions() -> list[str]:
    return [r.expr for r in RECORDINGS] + [a.expr for a in ALERTS]


def service_monitor(service: str) -> dict[str, Any]:
    """Scrapes the service's `http` port. `honorLabels`: the services' own `service` and
    `topic` labels stay as they are, not renamed `exported_service` by the target's."""
    name = f"ticketflow-{service}"
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "endpoints": [
                {"port": "http", "path": "/metrics", "interval": "30s", "honorLabels": True}
            ],
        },
    }


def prometheus_rule() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "ticketflow", "labels": {"role": "alert-rules"}},
        "spec": rule_groups(),
    }
