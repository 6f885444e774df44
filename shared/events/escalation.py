"""What the escalation service publishes on `ticketflow.escalations`.

One escalation per (ticket, metric) episode: warned -> (deferred) -> raised -> level_advanced
-> acknowledged -> resolved. Ids are deterministic (escalation id, type, level), so a record
published again after a crash carries the id of the first: consumers deduplicate by `id`.
Kafka key = ticket id, `ce_type` header = `type`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ESCALATION_NAMESPACE = uuid.UUID("2b7c1f5e-9d43-4c0a-8e61-5a3f0c9b7d24")

EscalationEventType = Literal[
    "escalation.warned",
    "escalation.deferred",
    "escalation.raised",
    "escalation.level_advanced",
    "escalation.acknowledged",
    "escalation.resolved",
]
ESCALATION_EVENT_TYPES: tuple[str, ...] = EscalationEventType.__args__  # type: ignore[attr-defined]


def escalation_event_id(escalation_id: uuid.UUID, event_type: str, level: int) -> uuid.UUID:
    return uuid.uuid5(ESCALATION_NAMESPACE, f"{escalation_id}|{event_type}|{level}")


class EscalationEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(description="Deterministic: escalation, type and level")
    type: EscalationEventType
    escalation_id: uuid.UUID
    ticket_id: str = Field(description="The ticket (Kafka key)")
    ticket_number: str | None = None
    account: str
    policy: str = Field(description="Pinned policy `id@version`")
    priority: str
    metric: str = Field(description="SLA metric, or `customer_request` (voximplant 9.1)")
    trigger: str = Field(description="What raised it: sla.warning, sla.breached, ...")
    reason: str | None = Field(default=None, description="Customer's escalation reason")
    level: int = Field(ge=0, description="Matrix level paged (0 before the first page)")
    recipients: list[str] = Field(default_factory=list, description="Contacts of that level")
    critical: bool = Field(description="Pages at any hour (no quiet hours)")
    deadline: datetime | None = Field(default=None, description="The SLA deadline concerned")
    at: datetime = Field(description="When it happened (a deferred page: when it will be sent)")
    causation_id: uuid.UUID | None = None
    data: dict[str, Any] = Field(default_factory=dict)
