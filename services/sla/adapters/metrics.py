"""Prometheus metrics of the SLA service, in a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_STAGES = ("lock", "fold", "publish", "state")
"""Where a batch of ticket events spends its time in the worker, in order: waiting for the
worker (the timer loop may be firing), folding (decode, load, core, encode, and repairing a
gap from the event store when a batch has one), publishing its
SLA events and commands (acknowledged), writing the new states to the changelog (acked)."""


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
        self.record_wait = Histogram(
            "ticketflow_sla_record_wait_seconds",
            "From a ticket event's broker timestamp to the worker starting on its batch (the "
            "broker, the consumer's fetch and Faust's hand-off, before any of the worker's work)",
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.batch_stage = Histogram(
            "ticketflow_sla_batch_stage_seconds",
            "Time a batch of ticket events spends in each stage of the worker: lock (waiting "
            "for the timer loop), fold, publish (SLA events acked), state (table, timers, "
            "changelog acked)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        for stage in BATCH_STAGES:
            self.batch_stage.labels(stage)
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
