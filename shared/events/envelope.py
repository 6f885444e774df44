"""The one envelope every ticketflow event travels in, on the wire and in the store.

Attributes follow CloudEvents 1.0. ticketflow's own attributes (`recorded_at`, `sequence`,
`account`, `policy`, `schema_version`, `correlation_id`, `causation_id`) are CloudEvents
extensions; their header spellings (lowercase, no underscores, as the spec requires) live in
`shared.events.codec`. `traceparent` and `tracestate` are the CloudEvents distributed-tracing
extension: the W3C trace context of the request that caused the event, so one trace follows
it through every service (tracing is optional: they may be absent).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.types import EVENT_TYPES, upcast_data
from shared.limits import MAX_VERSION

POLICY_REF = re.compile(r"^[a-z0-9][a-z0-9-]*@[0-9]+$")
TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""A W3C trace context `traceparent` (CloudEvents distributed-tracing extension)."""
TRACESTATE_MAX = 512
SPEC_VERSION = "1.0"


def new_event_id() -> uuid.UUID:
    """A fresh, random event id (UUID4)."""
    return uuid.uuid4()


def _require_aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must carry a timezone offset (got a naive datetime)")
    return value


class Envelope(BaseModel):
    """A ticketflow event. Immutable; `data` is validated against the payload model of `type`.

    `data` of an older `schema_version` is upcast to the current version on construction, so code
    that reads an envelope always sees current payloads.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=new_event_id, description="Unique event id (UUID)")
    type: str = Field(description="Event type, e.g. `ticket.opened`")
    source: str = Field(description="The service (or integrator) that produced the event")
    subject: str = Field(description="The ticket id the event belongs to")
    time: datetime = Field(description="When it happened (event time), timezone-aware")
    recorded_at: datetime | None = Field(
        default=None, description="When the event store committed it (store time)"
    )
    sequence: int = Field(
        ge=1, le=MAX_VERSION, description="Per-ticket version, 1 for `ticket.opened`"
    )
    account: str = Field(min_length=1, description="Account the ticket belongs to")
    policy: str = Field(description="Pinned policy as `id@version`")
    schema_version: int = Field(default=1, ge=1, description="Version of the `data` payload")
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    traceparent: str | None = Field(
        default=None,
        pattern=TRACEPARENT,
        description="W3C trace context of the request that caused the event (distributed "
        "tracing extension); absent when it was not traced",
    )
    tracestate: str | None = Field(
        default=None, max_length=TRACESTATE_MAX, description="W3C tracestate, with traceparent"
    )
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time", "recorded_at")
    @classmethod
    def _aware(cls, value: datetime | None, info: Any) -> datetime | None:
        return _require_aware(value, info.field_name)

    @field_validator("policy")
    @classmethod
    def _policy_ref(cls, value: str) -> str:
        if not POLICY_REF.match(value):
            raise ValueError(f"policy must look like 'voipster@3', got {value!r}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _upcast_and_validate(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        event_type = values.get("type")
        spec = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
        if spec is None or not isinstance(event_type, str):
            raise ValueError(f"unknown event type {event_type!r}")
        version = int(values.get("schema_version", 1))
        if version > spec.schema_version:
            raise ValueError(
                f"{event_type} schema_version {version} is newer than this service knows "
                f"({spec.schema_version})"
            )
        data = upcast_data(event_type, version, dict(values.get("data") or {}))
        payload = spec.model.model_validate(data)
        return {
            **values,
            "schema_version": spec.schema_version,
            "data": payload.model_dump(mode="json", exclude_none=True),
        }

    @property
    def policy_id(self) -> str:
        return self.policy.split("@", 1)[0]

    @property
    def policy_version(self) -> int:
        return int(self.policy.split("@", 1)[1])

    def payload(self) -> BaseModel:
        """The typed payload model of this event's `data`."""
        return EVENT_TYPES[self.type].model.model_validate(self.data)
