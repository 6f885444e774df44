"""What the console keeps of a ticket beyond its deadlines: its own events (replayed through
the SLA core for the timeline and the compliance report), the marks other services left on it
(escalation pages and acknowledgements, notifications sent) and each escalation's state.
Pure: the events come in as values."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from services.console.domain.at_risk import TicketFacts
from shared.events.types import EVENT_TYPES, upcast_data
from shared.sla import TimelineEvent

EscalationStatus = Literal["warned", "deferred", "raised", "acknowledged", "resolved"]
STATUS_OF: dict[str, EscalationStatus] = {
    "escalation.warned": "warned",
    "escalation.deferred": "deferred",
    "escalation.raised": "raised",
    "escalation.level_advanced": "raised",
    "escalation.acknowledged": "acknowledged",
    "escalation.resolved": "resolved",
}
STAGE: dict[EscalationStatus, int] = {
    "warned": 0,
    "deferred": 1,
    "raised": 2,
    "acknowledged": 3,
    "resolved": 4,
}
"""An escalation only moves forward: a late `raised` does not reopen an acknowledged one."""
OPEN: tuple[EscalationStatus, ...] = ("warned", "deferred", "raised", "acknowledged")
ACKABLE: frozenset[EscalationStatus] = frozenset({"warned", "deferred", "raised"})


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One ticket event as it came on `ticketflow.ticket-events`."""

    event_id: uuid.UUID
    ticket_id: str
    account: str
    policy: str
    type: str
    at: datetime
    sequence: int | None
    recorded_at: datetime | None
    schema_version: int
    data: Mapping[str, Any] = field(default_factory=dict)

    def timeline_event(self) -> TimelineEvent:
        """The event as the SLA core folds it, its payload upcast to the current schema."""
        data = dict(self.data)
        spec = EVENT_TYPES.get(self.type)
        if spec is not None and self.schema_version < spec.schema_version:
            data = upcast_data(self.type, self.schema_version, data)
        return TimelineEvent(
            self.type, self.at, data, sequence=self.sequence, recorded_at=self.recorded_at
        )


def in_order(events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """The ticket's events in version order (intake's sequence), event time breaking ties."""
    return sorted(
        events, key=lambda e: (e.sequence if e.sequence is not None else 1 << 62, e.at, e.type)
    )


@dataclass(frozen=True, slots=True)
class Mark:
    """Something that happened to a ticket outside its own events: (instant, kind, label) on
    its timeline. `kind` is `page`, `ack` or `notification`."""

    event_id: uuid.UUID
    ticket_id: str
    at: datetime
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A ticket as the Ticket page shows it."""

    facts: TicketFacts
    events: tuple[HistoryEvent, ...]
    marks: tuple[Mark, ...]


@dataclass(frozen=True, slots=True)
class EscalationSeen:
    """An escalation event as the console reads it (shared/events/escalation.py)."""

    event_id: uuid.UUID
    type: str
    escalation_id: uuid.UUID
    ticket_id: str
    number: str | None
    account: str
    policy: str
    priority: str
    metric: str
    trigger: str
    critical: bool
    level: int
    deadline: datetime | None
    at: datetime
    by: str | None = None


@dataclass(frozen=True, slots=True)
class EscalationRow:
    escalation_id: uuid.UUID
    ticket_id: str
    number: str | None
    account: str
    policy: str
    priority: str
    metric: str
    trigger: str
    critical: bool
    level: int
    status: EscalationStatus
    deadline: datetime | None
    opened_at: datetime
    updated_at: datetime
    acknowledged_by: str | None = None

    @property
    def ackable(self) -> bool:
        return self.status in ACKABLE


def escalation_row(current: EscalationRow | None, seen: EscalationSeen) -> EscalationRow:
    """The escalation after `seen`: its level only rises, its status only moves forward."""
    status = STATUS_OF.get(seen.type, "warned")
    if current is None:
        return EscalationRow(
            seen.escalation_id,
            seen.ticket_id,
            seen.number,
            seen.account,
            seen.policy,
            seen.priority,
            seen.metric,
            seen.trigger,
            seen.critical,
            seen.level,
            status,
            seen.deadline,
            seen.at,
            seen.at,
            seen.by if status == "acknowledged" else None,
        )
    forward = STAGE[status] >= STAGE[current.status]
    return replace(
        current,
        number=current.number or seen.number,
        level=max(current.level, seen.level),
        status=status if forward else current.status,
        deadline=seen.deadline or current.deadline,
        updated_at=max(current.updated_at, seen.at),
        acknowledged_by=seen.by
        if status == "acknowledged" and forward
        else current.acknowledged_by,
    )


def escalation_mark(seen: EscalationSeen) -> Mark | None:
    """The timeline marker of an escalation event: pages (first and each level) and acks."""
    if seen.type in ("escalation.raised", "escalation.level_advanced"):
        return Mark(seen.event_id, seen.ticket_id, seen.at, "page", f"Paged level {seen.level}")
    if seen.type == "escalation.acknowledged":
        by = f" by {seen.by}" if seen.by else ""
        return Mark(seen.event_id, seen.ticket_id, seen.at, "ack", f"Acknowledged{by}")
    return None


def notification_mark(
    event_id: uuid.UUID, ticket_id: str, kind: str, channel: str, template: str, at: datetime
) -> Mark | None:
    """A delivered notification (failed attempts and dead letters are not on the timeline)."""
    if kind != "notification.delivered":
        return None
    return Mark(event_id, ticket_id, at, "notification", f"{channel.capitalize()}: {template}")
