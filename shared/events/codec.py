"""Envelope <-> bytes: structured JSON (store, files, APIs) and the Kafka binary binding.

Kafka (CloudEvents Kafka protocol binding, binary content mode): key = ticket id, every
attribute as a `ce_<name>` header (UTF-8), `content-type: application/json`, value = `data`
as JSON. ticketflow's extension attributes drop their underscores on the wire because
CloudEvents attribute names are lowercase letters and digits only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter

from shared.events.envelope import SPEC_VERSION, Envelope
from shared.events.types import EVENT_TYPES

CONTENT_TYPE = "application/json"

# envelope field -> CloudEvents attribute name
_ATTRIBUTES: dict[str, str] = {
    "id": "id",
    "type": "type",
    "source": "source",
    "subject": "subject",
    "time": "time",
    "recorded_at": "recordedat",
    "sequence": "sequence",
    "account": "account",
    "policy": "policy",
    "schema_version": "schemaversion",
    "correlation_id": "correlationid",
    "causation_id": "causationid",
    "traceparent": "traceparent",
    "tracestate": "tracestate",
}
_FIELDS = {attr: field for field, attr in _ATTRIBUTES.items()}
_HEADER_PREFIX = (
    ("ce_specversion", SPEC_VERSION.encode()),
    ("content-type", CONTENT_TYPE.encode()),
)
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(datetime)


class DecodeError(ValueError):
    """A message that is not a valid ticketflow event (goes to the dead-letter topic)."""


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def to_json(envelope: Envelope) -> bytes:
    """Structured-mode CloudEvent JSON (all attributes and `data` in one object)."""
    body = envelope.model_dump(mode="json", exclude_none=True)
    return orjson.dumps({"specversion": SPEC_VERSION, **body})


def from_json(raw: bytes | str) -> Envelope:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise DecodeError("a CloudEvent must be a JSON object")
    body.pop("specversion", None)
    body.pop("datacontenttype", None)
    return _validate(body)


def to_kafka(envelope: Envelope) -> KafkaRecord:
    attrs = envelope.model_dump(mode="json", exclude_none=True, exclude={"data"})
    return _record(attrs, envelope.data)


def _record(attrs: dict[str, Any], data: Any) -> KafkaRecord:
    """The binary-mode record of JSON-mode attributes (None ones left out) and `data`."""
    headers = list(_HEADER_PREFIX)
    headers.extend(
        (f"ce_{attr}", str(attrs[name]).encode())
        for name, attr in _ATTRIBUTES.items()
        if attrs.get(name) is not None
    )
    return KafkaRecord(
        key=attrs["subject"].encode(), value=orjson.dumps(data), headers=tuple(headers)
    )


def stored_to_kafka(stored: dict[str, Any], recorded_at: datetime | None) -> KafkaRecord:
    """`to_kafka` of a stored envelope: `stored` is its JSON as written (JSON-mode, no
    None values, no `recorded_at`), `recorded_at` the store's column.

    A stored envelope was validated when it was written, so when its `data` is at the current
    schema version the record is assembled from the JSON as it is: the same bytes as
    `to_kafka(Envelope(...))` without building and dumping the model again (the outbox relay
    does this for every event). Older payloads go through the model, which upcasts them.
    """
    spec = EVENT_TYPES.get(stored.get("type", ""))
    if spec is None or stored.get("schema_version", 1) != spec.schema_version:
        return to_kafka(Envelope.model_validate({**stored, "recorded_at": recorded_at}))
    attrs = dict(stored)
    if recorded_at is not None:
        attrs["recorded_at"] = _TIMESTAMP.dump_python(recorded_at, mode="json")
    return _record(attrs, stored.get("data", {}))


def from_kafka(key: bytes | None, value: bytes | None, headers: Any) -> Envelope:
    """Rebuild an envelope from a Kafka record; raises DecodeError on anything malformed."""
    attrs: dict[str, Any] = {}
    for name, raw in headers or ():
        if not name.startswith("ce_"):
            continue
        attr = name[3:]
        if attr == "specversion":
            if raw != SPEC_VERSION.encode():
                raise DecodeError(f"unsupported CloudEvents specversion {raw!r}")
            continue
        field = _FIELDS.get(attr)
        if field is None:
            continue
        try:
            attrs[field] = raw.decode()
        except UnicodeDecodeError as exc:
            raise DecodeError(f"header {name} is not UTF-8") from exc
    if "type" not in attrs:
        raise DecodeError("missing ce_type header")
    try:
        attrs["data"] = orjson.loads(value) if value else {}
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"value is not JSON: {exc}") from exc
    if key is not None and key.decode(errors="replace") != attrs.get("subject"):
        raise DecodeError("record key does not match ce_subject")
    return _validate(attrs)


def _validate(body: dict[str, Any]) -> Envelope:
    try:
        return Envelope.model_validate(body)
    except ValueError as exc:
        raise DecodeError(str(exc)) from exc
