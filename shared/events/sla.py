"""What the SLA service publishes on `ticketflow.sla-events`: one record per derived SLA event.

The id is deterministic (a UUID5 of ticket, type, metric and instant), so a record emitted again
after a crash or a rebalance carries the id of the first one: consumers deduplicate by id and a
breach is acted on once. Kafka key = ticket id, value = this model as JSON, and the CloudEvents
binary-mode headers (`ce_id` = `id`, `ce_type`, `ce_source` = `sla`, `ce_subject` = ticket,
`ce_time` = `at`, ...; see `shared/events/published.py`) for consumers that route without
parsing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events.published import record_headers
from shared.limits import MAX_VERSION

SOURCE = "sla"

SLA_EVENT_NAMESPACE = uuid.UUID("8f0d7a52-4c2e-4f39-9a57-2f4b1d6f0e11")

SlaEventType = Literal[
    "sla.ticket_accepted",
    "sla.ticket_rejected",
    "sla.clock_started",
    "sla.clock_paused",
    "sla.clock_resumed",
    "sla.clock_stopped",
    "sla.target_changed",
    "sla.warning",
    "sla.breached",
    "sla.met",
    "sla.breach_retracted",
    "sla.corrected",
    "sla.close_by_timeout_due",
    "sla.severity_downgrade_proposed",
]
SLA_EVENT_TYPES: tuple[str, ...] = SlaEventType.__args__  # type: ignore[attr-defined]


def sla_event_id(ticket_id: str, event_type: str, metric: str | None, at: datetime) -> uuid.UUID:
    """The same derived fact always gets the same id."""
    instant = at.timestamp()
    return uuid.uuid5(SLA_EVENT_NAMESPACE, f"{ticket_id}|{event_type}|{metric or ''}|{instant!r}")


class SlaEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(
        description="Deterministic: same ticket, type, metric, instant -> same id"
    )
    type: SlaEventType
    ticket_id: str = Field(description="The ticket (Kafka key)")
    ticket_number: str | None = Field(
        default=None,
        description="The ticket number from `ticket.opened` (what every page and email names); "
        "null only on records of states written before it was carried",
    )
    account: str
    policy: str = Field(description="Pinned policy `id@version`")
    priority: str = Field(description="The ticket's priority when the event was derived")
    plan: str | None = None
    metric: str | None = Field(default=None, description="first_response, resolution, ...")
    at: datetime = Field(description="The instant the event describes; a breach: its deadline")
    emitted_at: datetime = Field(description="When the SLA service emitted it (wall clock)")
    based_on_version: int = Field(
        ge=1, le=MAX_VERSION, description="Ticket version the SLA state had reached"
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="The ticket event that caused it; none for a timer"
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="Type-specific details (`due_at`, targets, ...). A breach or warning the "
        "SLA service fired without the event store's confirmation, past its maximum delay, "
        "carries `provisional: true`",
    )

    @field_validator("at", "emitted_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a timezone offset")
        return value

    def to_record(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """(key, value, headers) for Kafka."""
        body = self.model_dump(mode="json")
        return self.ticket_id.encode(), orjson.dumps(body), record_headers(body, SOURCE)

    @classmethod
    def from_value(cls, value: bytes) -> SlaEvent:
        return cls.model_validate_json(value)
