"""CloudEvents binary-mode headers for the records the services publish beside the ticket
history: SLA events, ticket commands, escalation and notification events.

Their value is the record's own JSON model (not an envelope), so the attributes are taken
from it: `ce_id` = its deterministic `id` (consumers deduplicate by it), `ce_type`,
`ce_source` = the publishing service, `ce_subject` = the ticket id (the Kafka key),
`ce_time` = the instant the record describes (`at`; a command: when it was issued), and,
where the record has them, `ce_account`, `ce_policy` and `ce_causationid`; and, when the
record was made inside a trace, `ce_traceparent` (and `ce_tracestate`): the CloudEvents
distributed-tracing extension. Every topic then carries the same required set as
`ticketflow.ticket-events`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.events.envelope import SPEC_VERSION

CONTENT_TYPE = "application/json"
REQUIRED = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time")
# record field -> optional CloudEvents extension attribute
_OPTIONAL = (("account", "account"), ("policy", "policy"), ("causation_id", "causationid"))
_TIME_FIELDS = ("at", "issued_at")
TRACE_ATTRIBUTES = ("traceparent", "tracestate")
"""The CloudEvents distributed-tracing extension: W3C trace context, optional."""


class MissingAttribute(ValueError):
    """A record to publish lacks a field a required CloudEvents attribute comes from."""


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def record_headers(
    value: Mapping[str, Any],
    source: str,
    *,
    queued_at: datetime | None = None,
    trace: Mapping[str, str] | None = None,
) -> list[tuple[str, bytes]]:
    """The `ce_*` headers (and `content-type`) of a published record, from its JSON-mode or
    model-dump `value` (`queued_at`: the time of a record that names no instant of its own;
    `trace`: the W3C `traceparent`/`tracestate` it was made in). Raises `MissingAttribute`
    naming what is missing."""
    time = next((value[name] for name in _TIME_FIELDS if value.get(name) is not None), queued_at)
    required = {
        "ce_id": value.get("id"),
        "ce_type": value.get("type"),
        "ce_subject": value.get("ticket_id"),
        "ce_time": time,
    }
    missing = [name for name, got in required.items() if got is None]
    if missing:
        raise MissingAttribute(f"cannot publish without {', '.join(missing)}")
    headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", _text(required["ce_id"]).encode()),
        ("ce_type", _text(required["ce_type"]).encode()),
        ("ce_source", source.encode()),
        ("ce_subject", _text(required["ce_subject"]).encode()),
        ("ce_time", _text(time).encode()),
    ]
    headers.extend(
        (f"ce_{attr}", _text(value[field]).encode())
        for field, attr in _OPTIONAL
        if value.get(field) is not None
    )
    for name in TRACE_ATTRIBUTES:
        if trace and trace.get(name):
            headers.append((f"ce_{name}", trace[name].encode()))
    headers.append(("content-type", CONTENT_TYPE.encode()))
    return headers
