"""What a fold or a firing caused, as records: each SLA event for `ticketflow.sla-events`, and
the ticket command it asks for, if any, for `ticketflow.ticket-commands`."""

from __future__ import annotations

from datetime import datetime

import orjson

from services.common import tracing
from services.sla.adapters.metrics import SlaMetrics
from services.sla.domain.outputs import command_for, sla_event
from services.sla.domain.processing import Decision
from services.sla.domain.records import OutRecord
from shared.events.published import record_headers
from shared.events.sla import SOURCE as SLA_SOURCE
from shared.topics import SLA_EVENTS, TICKET_COMMANDS

EFFECT_TOPICS = (SLA_EVENTS.name, TICKET_COMMANDS.name)
PROVISIONAL_TYPES = frozenset({"sla.breached", "sla.warning"})


def records_of(
    decision: Decision, emitted_at: datetime, metrics: SlaMetrics, provisional: bool = False
) -> list[OutRecord]:
    """The records of `applied.caused`; a `provisional` breach or warning says so in its data.
    They carry the current trace context (`ce_traceparent`), if any."""
    records = []
    trace = tracing.current()
    key = decision.tracked.ticket_id.encode()
    for traced in decision.emitted:
        event = sla_event(decision.tracked, traced, emitted_at)
        if provisional and event["type"] in PROVISIONAL_TYPES:
            event["data"] = {**event["data"], "provisional": True}
            metrics.provisional.labels(event["type"]).inc()
        headers = record_headers(event, SLA_SOURCE, trace=trace)
        records.append(OutRecord(SLA_EVENTS.name, key, orjson.dumps(event), headers))
        command = command_for(event)
        if command is not None:
            command_key, value = command.to_record()
            command_headers = [*command.headers(), *tracing.kafka_headers()] if trace else None
            records.append(
                OutRecord(
                    TICKET_COMMANDS.name, command_key, value, command_headers or command.headers()
                )
            )
    return records


def count_emitted(metrics: SlaMetrics, out: list[OutRecord]) -> None:
    """Count sent records: SLA events by type, the others by topic."""
    for record in out:
        kind = record.topic
        if record.topic == SLA_EVENTS.name:
            kind = dict(record.headers)["ce_type"].decode()
        metrics.emitted.labels(kind).inc()
