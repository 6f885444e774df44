"""A Kafka record off `ticketflow.ticket-events`, and its decoding into what the tracker reads.

The decoding checks what the SLA service relies on (the CloudEvents attributes it reads, an
aware event time, a known type, the payload against its model, the key matching the subject)
without building a full `Envelope`: the same rules, a third of the cost on the hot path.
Anything malformed raises DecodeError and goes to the dead-letter topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from services.sla.domain.tracked import Incoming
from shared.events.codec import DecodeError
from shared.events.envelope import POLICY_REF, SPEC_VERSION
from shared.events.types import TICKET_EVENT_TYPES, EventSpec, upcast_data
from shared.limits import MAX_VERSION

_SPEC = SPEC_VERSION.encode()
_READ = {
    "ce_id": "id",
    "ce_type": "type",
    "ce_subject": "subject",
    "ce_time": "time",
    "ce_recordedat": "recorded_at",
    "ce_sequence": "sequence",
    "ce_account": "account",
    "ce_policy": "policy",
    "ce_schemaversion": "schema_version",
}
_REQUIRED = ("id", "type", "subject", "time", "sequence", "account", "policy")


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: float | None = None
    """Epoch seconds of the record's broker/producer timestamp."""


def _instant(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DecodeError(f"{name}: not an ISO-8601 instant: {text!r}") from exc
    if value.utcoffset() is None:
        raise DecodeError(f"{name}: needs a timezone offset: {text!r}")
    return value


def decode_message(message: RawMessage) -> tuple[bytes, Incoming]:
    """(ticket key, event); raises DecodeError for anything malformed."""
    if not message.key:
        raise DecodeError("record has no key (the ticket id)")
    attrs = _attributes(message.headers)
    spec = _event_type(attrs)
    _check_subject(message.key, attrs)
    sequence, version = _numbers(attrs, spec.schema_version)
    data = _data(message.value, attrs["type"], version, spec)
    recorded = attrs.get("recorded_at")
    return message.key, Incoming(
        event_id=attrs["id"],
        type=attrs["type"],
        at=_instant(attrs["time"], "ce_time"),
        sequence=sequence,
        account=attrs["account"],
        policy=attrs["policy"],
        data=data,
        recorded_at=_instant(recorded, "ce_recordedat") if recorded else None,
    )


def _attributes(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """The CloudEvents attributes the worker reads, each one required but the optional ones."""
    attrs: dict[str, str] = {}
    try:
        for name, raw in headers:
            field = _READ.get(name)
            if field is not None:
                attrs[field] = raw.decode()
            elif name == "ce_specversion" and raw != _SPEC:
                raise DecodeError(f"unsupported CloudEvents specversion {raw!r}")
    except UnicodeDecodeError as exc:
        raise DecodeError("a ce_* header is not UTF-8") from exc
    missing = [f"ce_{name}" for name in _REQUIRED if name not in attrs]
    if missing:
        raise DecodeError(f"missing header(s): {', '.join(missing)}")
    return attrs


def _event_type(attrs: dict[str, str]) -> EventSpec:
    spec = TICKET_EVENT_TYPES.get(attrs["type"])
    if spec is None:
        raise DecodeError(f"unknown event type {attrs['type']!r}")
    return spec


def _check_subject(key: bytes, attrs: dict[str, str]) -> None:
    """The record key is the ticket id, and so is ce_subject; the policy is a pinned ref."""
    if key.decode(errors="replace") != attrs["subject"]:
        raise DecodeError("record key does not match ce_subject")
    try:
        uuid.UUID(attrs["subject"])
    except ValueError as exc:
        raise DecodeError(f"ce_subject must be a ticket id (UUID): {attrs['subject']!r}") from exc
    if not POLICY_REF.match(attrs["policy"]):
        raise DecodeError(f"policy must look like 'voipster@3', got {attrs['policy']!r}")


def _numbers(attrs: dict[str, str], latest_version: int) -> tuple[int, int]:
    """(sequence, schema version), each a bounded integer."""
    if len(attrs["sequence"]) > 12 or len(attrs.get("schema_version", "1")) > 4:
        raise DecodeError("ce_sequence / ce_schemaversion: too many digits")
    try:
        sequence = int(attrs["sequence"])
        version = int(attrs.get("schema_version", "1"))
    except ValueError as exc:
        raise DecodeError(f"ce_sequence / ce_schemaversion: {exc}") from exc
    if not 1 <= sequence <= MAX_VERSION or not 1 <= version <= latest_version:
        raise DecodeError(f"sequence {sequence} / schema_version {version} out of range")
    return sequence, version


def _data(value: bytes | None, kind: str, version: int, spec: EventSpec) -> dict[str, Any]:
    """The event data: a JSON object, upcast to the current schema version and valid."""
    try:
        parsed: Any = orjson.loads(value) if value else {}
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"value is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise DecodeError("value (the event data) must be a JSON object")
    data: dict[str, Any] = parsed
    if version < spec.schema_version:
        data = upcast_data(kind, version, data)
    try:
        spec.model.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"{kind} data: {exc}") from exc
    return data
