"""The published contracts of ticketflow's topics, generated from the pydantic models:
one JSON Schema per event type and version, and an AsyncAPI 3.1 document of the topics.

`ticketflow schemas write` regenerates the checked-in files; a test fails when they differ
from the models, so a payload change cannot reach analytics consumers unannounced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.commands import TicketCommand
from shared.events.billing import BillingEvent
from shared.events.envelope import Envelope
from shared.events.escalation import EscalationEvent
from shared.events.notification import NotificationEvent
from shared.events.published import REQUIRED as REQUIRED_HEADERS
from shared.events.sla import SlaEvent
from shared.events.types import EVENT_TYPES
from shared.topics import ALL_TOPICS

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
ASYNCAPI_VERSION = "3.1.0"


def event_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of the event's `data` (current schema version)."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, spec in sorted(EVENT_TYPES.items()):
        schema = spec.model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://ticketflow.dev/schemas/{event_type}.v{spec.schema_version}.json"
        schema["title"] = f"{event_type} data, schema_version {spec.schema_version}"
        out[f"{event_type}.v{spec.schema_version}.json"] = schema
    return out


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="serialization")
    schema["$id"] = "https://ticketflow.dev/schemas/envelope.json"
    schema["title"] = "ticketflow CloudEvents envelope (structured mode)"
    return schema


# Structured records (not CloudEvents envelopes): topic, message key, schema file, model, title.
RECORDS: tuple[tuple[str, str, str, type[BaseModel], str], ...] = (
    ("ticketflow.sla-events", "sla_event", "sla-event.json", SlaEvent, "SLA event"),
    (
        "ticketflow.ticket-commands",
        "ticket_command",
        "ticket-command.json",
        TicketCommand,
        "Ticket command",
    ),
    (
        "ticketflow.escalations",
        "escalation_event",
        "escalation-event.json",
        EscalationEvent,
        "Escalation event",
    ),
    (
        "ticketflow.notifications",
        "notification_event",
        "notification-event.json",
        NotificationEvent,
        "Notification outcome",
    ),
    ("ticketflow.billing", "billing_event", "billing-event.json", BillingEvent, "Billing event"),
)


def record_schemas() -> dict[str, dict[str, Any]]:
    """Schemas of the structured records on sla-events, ticket-commands, escalations,
    notifications and billing."""
    out: dict[str, dict[str, Any]] = {}
    for topic, _, name, model, label in RECORDS:
        title = f"ticketflow {label.lower()} (value on {topic})"
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://ticketflow.dev/schemas/{name}"
        schema["title"] = title
        out[name] = schema
    return out


# How a consumer of each record topic deduplicates (delivery is at least once).
DEDUPLICATION = {
    "ticketflow.sla-events": "Deduplicate by ce_id (= `id`): a record re-published after a "
    "crash keeps its id.",
    "ticketflow.ticket-commands": "Deduplicate by ce_id (= `id`): a command re-published after "
    "a crash keeps its id.",
    "ticketflow.escalations": "Deduplicate by ce_id (= `id`, derived from escalation id, type "
    "and level): a record re-published after a crash keeps its id, so a second copy of the "
    "same page or acknowledgement is dropped.",
    "ticketflow.notifications": "Deduplicate by ce_id (= `id`, derived from notification id, "
    "type and attempt): a re-published outcome keeps its id; each retry attempt has an id of "
    "its own.",
    "ticketflow.billing": "Deduplicate by ce_id (= `id`, derived from the charge, or the account "
    "and what crossed a threshold): a re-published record keeps its id. Key = ce_subject = "
    "the ticket whose event caused it; the `account` field names the ledger.",
}


def asyncapi() -> dict[str, Any]:
    headers = {
        "type": "object",
        "description": "CloudEvents Kafka binding, binary mode: attributes as ce_* headers; "
        "ce_traceparent/ce_tracestate (distributed-tracing extension, W3C trace context) "
        "when the event was traced",
        "properties": {
            name: {"type": "string"}
            for name in (
                "ce_specversion",
                "ce_id",
                "ce_type",
                "ce_source",
                "ce_subject",
                "ce_time",
                "ce_recordedat",
                "ce_sequence",
                "ce_account",
                "ce_policy",
                "ce_schemaversion",
                "ce_correlationid",
                "ce_causationid",
                "ce_traceparent",
                "ce_tracestate",
                "content-type",
            )
        },
        "required": list(REQUIRED_HEADERS),
    }
    ticket_messages = {
        event_type.replace(".", "_"): {
            "name": event_type,
            "title": event_type,
            "contentType": "application/json",
            "headers": headers,
            "payload": {"$ref": f"schemas/{event_type}.v{spec.schema_version}.json"},
        }
        for event_type, spec in sorted(EVENT_TYPES.items())
    }
    channels: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        if topic.internal:
            continue
        channel: dict[str, Any] = {
            "address": topic.name,
            "description": f"{topic.description}. Key = ticket id; {topic.partitions} partitions.",
            "bindings": {"kafka": {"partitions": topic.partitions, "replicas": 3}},
        }
        if topic.name == "ticketflow.ticket-events":
            channel["messages"] = {
                key: {"$ref": f"#/components/messages/{key}"} for key in ticket_messages
            }
        for record_topic, key, *_ in RECORDS:
            if topic.name == record_topic:
                channel["messages"] = {key: {"$ref": f"#/components/messages/{key}"}}
                channel["description"] += " " + DEDUPLICATION[record_topic]
        channels[topic.name.removeprefix("ticketflow.")] = channel
    record_headers = {
        "type": "object",
        "description": "CloudEvents Kafka binding, binary mode: ce_id = the record's `id`, "
        "ce_source = the publishing service, ce_subject = the ticket id, ce_time = `at` (a "
        "command: `issued_at`); ce_traceparent/ce_tracestate (distributed-tracing extension, "
        "W3C trace context) when the record was made in a trace",
        "properties": {
            name: {"type": "string"}
            for name in (
                *REQUIRED_HEADERS,
                "ce_account",
                "ce_policy",
                "ce_causationid",
                "ce_traceparent",
                "ce_tracestate",
                "content-type",
            )
        },
        "required": list(REQUIRED_HEADERS),
    }
    record_messages = {
        key: {
            "name": name.removesuffix(".json"),
            "title": label,
            "contentType": "application/json",
            "summary": DEDUPLICATION[topic],
            "headers": record_headers,
            "payload": {"$ref": f"schemas/{name}"},
        }
        for topic, key, name, _, label in RECORDS
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "ticketflow topics",
            "version": "1.0.0",
            "description": "Ticket history and SLA events for downstream consumers. Delivery is "
            "at least once: deduplicate by ce_id. Order holds per ticket (the key).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": {**ticket_messages, **record_messages}},
    }


def rendered() -> dict[str, str]:
    """Relative path -> file content of every contract file."""
    files = {f"schemas/{name}": schema for name, schema in event_schemas().items()}
    files["schemas/envelope.json"] = envelope_schema()
    files.update({f"schemas/{name}": schema for name, schema in record_schemas().items()})
    files["asyncapi.json"] = asyncapi()
    return {path: json.dumps(body, indent=2, sort_keys=True) + "\n" for path, body in files.items()}


def write(directory: Path = CONTRACTS_DIR) -> list[str]:
    written = []
    for path, content in rendered().items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != content:
            target.write_text(content)
            written.append(path)
    return written


def stale(directory: Path = CONTRACTS_DIR) -> list[str]:
    """Contract files that are missing or differ from what the models generate."""
    return [
        path
        for path, content in rendered().items()
        if not (directory / path).exists() or (directory / path).read_text() != content
    ]
