"""A Kafka record off `ticketflow.ticket-events`, and its decoding into what the tracker reads.

The decoding checks what the SLA service relies on (the CloudEvents attributes it reads, an
aware event time, a known type, the payload against its model, the key matching the subject)
without building a full `Envelope`: the same rules, a third of the cost on the hot path.
Anything malformed raises DecodeError and goes to the dead-letter topic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from services.sla.domain.tracked import Incoming
from shared.events.codec import DecodeError
from shared.events.envelope import POLICY_REF, SPEC_VERSION
from shared.events.types import TICKET_EVENT_TYPES, upcast_data
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


def decode_message(message: RawMessage) -> tuple[bytes, Incoming]:  # noqa: C901, PLR0912  (one refusal a header)
    """(ticket key, event); raises DecodeError for anything malformed."""
    if not message.key:
        raise DecodeError("record has no key (the ticket id)")
    attrs: dict[str, str] = {}
    try:
        for name, raw in message.headers:
            field = _READ.get(name)
            if field is not None:
                attrs[field] = raw.decode()
            elif name == "ce_specversion" and raw != _SPEC:
                raise DecodeError(f"unsupported CloudEvents specversion {raw!r}")
    except UnicodeDecodeError as exc:
        raise DecodeError("a ce_* header is not UTF-8") from exc
    missing = [
        f"ce_{name}"
        for name in ("id", "type", "subject", "time", "sequence", "account", "policy")
        if name not in attrs
    ]
    if missing:
        raise DecodeError(f"missing header(s): {', '.join(missing)}")
    kind = attrs["type"]
    spec = TICKET_EVENT_TYPES.get(kind)
    if spec is None:
        raise DecodeError(f"unknown event type {kind!r}")
    if message.key.decode(errors="replace") != attrs["subject"]:
        raise DecodeError("record key does not match ce_subject")
    try:
        uuid.UUID(attrs["subject"])
    except ValueError as exc:
        raise DecodeError(f"ce_subject must be a ticket id (UUID): {attrs['subject']!r}") from exc
    if not POLICY_REF.match(attrs["policy"]):
        raise DecodeError(f"policy must look like 'voipster@3', got {attrs['policy']!r}")
    if len(attrs["sequence"]) > 12 or len(attrs.get("schema_version", "1")) > 4:
        raise DecodeError("ce_sequence / ce_schemaversion: too many digits")
    try:
        sequence = int(attrs["sequence"])
        version = int(attrs.get("schema_version", "1"))
    except ValueError as exc:
        raise DecodeError(f"ce_sequence / ce_schemaversion: {exc}") from exc
    if not 1 <= sequence <= MAX_VERSION or not 1 <= version <= spec.schema_version:
        raise DecodeError(f"sequence {sequence} / schema_version {version} out of range")
    try:
        data: Any = orjson.loads(message.value) if message.value else {}
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("value (the event data) must be a JSON object")
    if version < spec.schema_version:
        data = upcast_data(kind, version, data)
    try:
        spec.model.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"{kind} data: {exc}") from exc
    recorded = attrs.get("recorded_at")
    return message.key, Incoming(
        event_id=attrs["id"],
        type=kind,
        at=_instant(attrs["time"], "ce_time"),
        sequence=sequence,
        account=attrs["account"],
        policy=attrs["policy"],
        data=data,
        recorded_at=_instant(recorded, "ce_recordedat") if recorded else None,
    )
