"""Prometheus metrics of the SLA service, in a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class SlaMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "ticketflow_sla_ticket_events_total",
            "Ticket events consumed, by outcome (applied, duplicate, held, dead_lettered)",
            ["outcome"],
            registry=self.registry,
        )
        self.emitted = Counter(
            "ticketflow_sla_emitted_total",
            "Records emitted, by SLA event type (commands and dead letters by topic)",
            ["type"],
            registry=self.registry,
        )
        self.lateness = Histogram(
            "ticketflow_sla_timer_lateness_seconds",
            "Emit time minus deadline for timer-fired breaches and warnings",
            ["type"],
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.timers = Gauge(
            "ticketflow_sla_timers_held",
            "Tickets with a pending timer in this worker",
            registry=self.registry,
        )
        self.tickets = Gauge(
            "ticketflow_sla_tickets_tracked",
            "Tickets whose SLA state this worker holds",
            registry=self.registry,
        )
        self.lag = Gauge(
            "ticketflow_sla_consumer_lag",
            "Records on the partition not yet processed by this worker (fetch highwater minus "
            "the processed or committed position)",
            ["partition"],
            registry=self.registry,
        )
        self.horizon_lag = Gauge(
            "ticketflow_sla_watermark_lag_seconds",
            "Wall clock minus the event store's horizon at the last timer decision (breaches "
            "wait for the horizon; -1 while the store gives none)",
            registry=self.registry,
        )
        self.provisional = Counter(
            "ticketflow_sla_provisional_total",
            "Breaches and warnings fired past the maximum delay without the store's verdict",
            ["type"],
            registry=self.registry,
        )
        self.repairs = Counter(
            "ticketflow_sla_repairs_total",
            "Tickets brought up to the event store's version, by why (gap, lagging, "
            "reconciliation); unrebuilt: an unreadable stored state the store could not rebuild",
            ["reason"],
            registry=self.registry,
        )
        self.reconciliation = Gauge(
            "ticketflow_sla_reconciliation_seconds",
            "Duration of the last reconciliation with the event store on assignment",
            registry=self.registry,
        )
