"""Commands the SLA service sends intake on `ticketflow.ticket-commands` (imperative names).

Each is based on the ticket version the SLA service saw: intake applies it only if the ticket
is still at that version, and otherwise records that a newer event superseded it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events.published import record_headers
from shared.limits import MAX_VERSION

CommandType = Literal["close_by_timeout", "severity_downgrade"]


class TicketCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: CommandType
    ticket_id: uuid.UUID
    based_on_version: int = Field(ge=1, le=MAX_VERSION)
    issued_at: datetime
    due_at: datetime = Field(description="The deadline that triggered the command")
    priority: str | None = Field(default=None, description="severity_downgrade: the new one")
    reason: str | None = None

    @field_validator("issued_at", "due_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a timezone offset")
        return value

    def to_record(self) -> tuple[bytes, bytes]:
        """(key, value) for Kafka: key = ticket id, value = JSON."""
        return str(self.ticket_id).encode(), orjson.dumps(self.model_dump(mode="json"))

    def headers(self) -> list[tuple[str, bytes]]:
        """CloudEvents binary-mode headers (`ce_time` = when it was issued)."""
        return record_headers(self.model_dump(mode="json"), "sla")

    @classmethod
    def from_value(cls, value: bytes) -> TicketCommand:
        return cls.model_validate_json(value)
