"""The at-risk read model's rows and how each event changes them: a ticket's facts (number,
account, policy, priority, open or ended) and, per metric, its next deadline. Pure: the
events come in as values, the time they describe is in them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DeadlineStatus = Literal["running", "paused", "met", "breached"]
AT_RISK_STATUSES: tuple[DeadlineStatus, ...] = ("running", "paused", "breached")
"""A met deadline is no longer at risk; the others are listed."""


@dataclass(frozen=True, slots=True)
class TicketFacts:
    ticket_id: str
    number: str | None
    account: str
    policy: str
    priority: str
    ended: bool = False
    """Resolved or closed: none of its deadlines is at risk any more (reopened clears it)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """One metric's next deadline of one ticket, as the console lists it."""

    ticket_id: str
    number: str | None
    account: str
    policy: str
    priority: str
    metric: str
    due_at: datetime | None
    warn_at: datetime | None
    """When the SLA service warned (null until it has)."""
    status: DeadlineStatus
    escalation_level: int
    acknowledged: bool
    updated_at: datetime

    def but(self, **changes: object) -> Deadline:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ClockChange:
    """An SLA event as the console reads it (`sla.*`, shared/events/sla.py)."""

    type: str
    ticket_id: str
    number: str | None
    account: str
    policy: str
    priority: str
    metric: str
    at: datetime
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class EscalationChange:
    """An escalation event as the console reads it (shared/events/escalation.py)."""

    type: str
    ticket_id: str
    metric: str
    level: int
    at: datetime


REMOVES = frozenset({"sla.clock_stopped"})
"""A clock stopped without being met (cancelled, or completed after its breach)."""
CREATES = frozenset(
    {
        "sla.clock_started",
        "sla.clock_resumed",
        "sla.target_changed",
        "sla.clock_paused",
        "sla.warning",
        "sla.breached",
    }
)
"""Events that put a metric in the read model when the console has no row for it yet."""


def facts_from_clock(change: ClockChange) -> TicketFacts:
    """What an SLA event says of its ticket (before the console has seen `ticket.opened`)."""
    return TicketFacts(
        change.ticket_id, change.number, change.account, change.policy, change.priority
    )


def clock_changed(current: Deadline | None, change: ClockChange) -> Deadline | None:
    """The deadline after `change`; None when the metric leaves the read model. An event
    that does not move a deadline leaves `current` as it is."""
    kind = change.type
    if kind in REMOVES:
        return None
    if current is None:
        if kind not in CREATES:
            return None
        current = Deadline(
            change.ticket_id,
            change.number,
            change.account,
            change.policy,
            change.priority,
            change.metric,
            change.due_at,
            None,
            "running",
            0,
            False,
            change.at,
        )
    moved = current.but(updated_at=change.at, number=current.number or change.number)
    if kind == "sla.clock_started":
        return moved.but(due_at=change.due_at, warn_at=None, status="running")
    if kind in ("sla.clock_resumed", "sla.target_changed"):
        return moved.but(
            due_at=change.due_at or current.due_at, status="running", priority=change.priority
        )
    if kind == "sla.clock_paused":
        return moved.but(status="paused")
    if kind == "sla.warning":
        return moved.but(warn_at=change.at, due_at=change.due_at or current.due_at)
    if kind == "sla.breached":
        return moved.but(status="breached", due_at=change.at)
    if kind in ("sla.met", "sla.breach_retracted"):
        return moved.but(status="met")
    if kind == "sla.corrected" and current.status == "breached":
        return moved.but(due_at=change.due_at or current.due_at)
    return current


def escalation_changed(current: Deadline, change: EscalationChange) -> Deadline:
    """The deadline with the escalation's level and acknowledgement."""
    if change.type == "escalation.acknowledged":
        return current.but(acknowledged=True, updated_at=change.at)
    if change.type in ("escalation.raised", "escalation.level_advanced"):
        return current.but(
            escalation_level=max(current.escalation_level, change.level),
            updated_at=change.at,
        )
    if change.type == "escalation.resolved":
        return current.but(acknowledged=False, escalation_level=0, updated_at=change.at)
    return current


def with_facts(current: Deadline, facts: TicketFacts) -> Deadline:
    """The deadline naming the ticket as `ticket.opened` or a severity change says."""
    return current.but(
        number=facts.number or current.number,
        account=facts.account,
        policy=facts.policy,
        priority=facts.priority or current.priority,
    )


def next_deadline_order(row: Deadline) -> tuple[int, float, str, str]:
    """Sort key of the at-risk list: running and breached by due time (earliest first),
    then paused ones (their clock is not moving), then rows without a due time; ties by
    ticket and metric."""
    if row.due_at is None:
        return (2, 0.0, row.ticket_id, row.metric)
    paused = 1 if row.status == "paused" else 0
    return (paused, row.due_at.timestamp(), row.ticket_id, row.metric)
