"""The escalation state machine, per (ticket, metric) episode. Pure: every function takes the
current state and the time, and returns the new state and what happened.

    (none) --warning--> warned --breach--> raised(1) --due--> raised(2) ... --ack--> acknowledged
    (none) --breach/customer request--> raised(1), or deferred until the next opening when
                                        it is not critical and outside support hours
    any open state --met / retraction / ticket resolved or closed--> resolved

The levels are timed from when the escalation fell due (`levels_from`: the breach, or the
opening a quiet-hours page waited for), and pages go out when they are sent (`raised_at`, each
event's `at`). When several levels are due at once - a ticket logged long after its deadline,
or a scheduler that was down - one page goes to the highest level due, naming the levels it
skipped (`data.skipped_levels`), instead of a burst of pages within milliseconds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from services.escalation.domain.matrix import Matrix

Status = Literal["warned", "deferred", "raised", "acknowledged", "resolved"]
ACTIVE: frozenset[str] = frozenset({"warned", "deferred", "raised", "acknowledged"})
"""The statuses of an escalation that is not over (every one but `resolved`)."""
CUSTOMER_REQUEST = "customer_request"
ESCALATION_NAMESPACE = uuid.UUID("5e2d8b17-0c6a-4f93-b1d4-7a9c3e58f260")


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What ticket events tell the escalation service about a ticket (for customer requests,
    which carry neither priority nor plan); None: not told (keep what is known)."""

    ticket_id: str
    account: str
    policy: str
    priority: str | None = None
    plan: str | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    """What starts or moves an escalation: an SLA warning/breach or a customer's request."""

    event_id: uuid.UUID
    kind: str  # sla.warning | sla.breached | ticket.escalation_requested
    ticket_id: str
    account: str
    policy: str
    priority: str
    metric: str
    at: datetime
    plan: str | None = None
    deadline: datetime | None = None
    reason: str | None = None
    ticket_number: str | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    id: uuid.UUID
    ticket_id: str
    account: str
    policy: str
    priority: str
    metric: str
    trigger: str
    critical: bool
    status: Status
    level: int
    opened_at: datetime
    plan: str | None = None
    deadline: datetime | None = None
    reason: str | None = None
    ticket_number: str | None = None
    raised_at: datetime | None = None
    """When the first page went out."""
    next_at: datetime | None = None
    """When the scheduler acts on it next: the deferred first page or the next level."""
    acknowledged_by: str | None = None
    resolution: str | None = None
    levels_from: datetime | None = None
    """What the level delays count from: when the escalation fell due (None on episodes
    stored before it was kept: `raised_at`)."""

    @property
    def is_open(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class Emitted:
    """One escalation event to publish: `level` is the matrix level whose contacts are told
    (0: nobody yet)."""

    type: str
    level: int
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


Decision = tuple[Escalation | None, list[Emitted]]


def _new(trigger: Trigger, matrix: Matrix, status: Status) -> Escalation:
    return Escalation(
        id=uuid.uuid5(
            ESCALATION_NAMESPACE, f"{trigger.ticket_id}|{trigger.metric}|{trigger.event_id}"
        ),
        ticket_id=trigger.ticket_id,
        account=trigger.account,
        policy=trigger.policy,
        priority=trigger.priority,
        metric=trigger.metric,
        trigger=trigger.kind,
        critical=matrix.is_critical(trigger.priority),
        status=status,
        level=0,
        opened_at=trigger.at,
        plan=trigger.plan,
        deadline=trigger.deadline,
        reason=trigger.reason,
        ticket_number=trigger.ticket_number,
    )


def _next_level(
    escalation: Escalation, matrix: Matrix, level: int, levels_from: datetime
) -> datetime | None:
    return matrix.next_level_due(
        escalation.priority, escalation.plan, escalation.metric, level, levels_from
    )


def _climb(
    escalation: Escalation, matrix: Matrix, level: int, levels_from: datetime, now: datetime
) -> tuple[int, list[int], datetime | None]:
    """From `level` (due now), the highest level already due at `now`, the levels passed on
    the way, and when the one after it falls due."""
    skipped: list[int] = []
    next_at = _next_level(escalation, matrix, level, levels_from)
    while next_at is not None and next_at <= now:
        skipped.append(level)
        level += 1
        next_at = _next_level(escalation, matrix, level, levels_from)
    return level, skipped, next_at


def _page(
    escalation: Escalation,
    matrix: Matrix,
    kind: str,
    level: int,
    levels_from: datetime,
    now: datetime,
) -> Decision:
    """Page `level` (or the highest level due by `now` from it) at `now`."""
    reached, skipped, next_at = _climb(escalation, matrix, level, levels_from, now)
    paged = replace(
        escalation,
        status="raised",
        level=reached,
        raised_at=escalation.raised_at or now,
        levels_from=levels_from,
        next_at=next_at,
    )
    data: dict[str, Any] = {"skipped_levels": skipped} if skipped else {}
    return paged, [Emitted(kind, reached, now, data)]


def _page_first_level(
    escalation: Escalation, matrix: Matrix, at: datetime, now: datetime
) -> Decision:
    """Page level 1 now, or defer to the next opening (quiet hours). `at` is when the
    escalation fell due; a non-critical one that fell due in quiet hours counts its levels
    from the opening it would have waited for."""
    levels_from = matrix.page_time(escalation.priority, at)
    page_at = matrix.page_time(escalation.priority, max(at, now))
    if page_at > now:
        deferred = replace(escalation, status="deferred", next_at=page_at, levels_from=levels_from)
        return deferred, [Emitted("escalation.deferred", 0, now, {"until": page_at.isoformat()})]
    return _page(escalation, matrix, "escalation.raised", 1, levels_from, now)


def on_warning(current: Escalation | None, trigger: Trigger, matrix: Matrix) -> Decision:
    """Tell level 1 that a deadline approaches; nothing if an episode is already open."""
    if current is not None and current.is_open:
        return current, []
    if trigger.metric not in matrix.metrics:
        return current, []
    warned = replace(_new(trigger, matrix, "warned"), level=1)
    return warned, [Emitted("escalation.warned", 1, trigger.at)]


def on_raise(
    current: Escalation | None, trigger: Trigger, matrix: Matrix, now: datetime | None = None
) -> Decision:
    """A breach or a customer's escalation request: page level 1 (or defer it), at `now`
    (default: the trigger's instant). A warned episode becomes raised; an episode already
    raised is left alone (redelivery)."""
    if trigger.metric != CUSTOMER_REQUEST and trigger.metric not in matrix.metrics:
        return current, []
    if current is not None and current.status != "warned" and current.is_open:
        return current, []
    if current is not None and current.status == "warned":
        base = replace(current, trigger=trigger.kind, deadline=trigger.deadline or current.deadline)
    else:
        base = _new(trigger, matrix, "raised")
    return _page_first_level(base, matrix, trigger.at, max(trigger.at, now or trigger.at))


def on_due(current: Escalation, matrix: Matrix, now: datetime) -> Decision:
    """The scheduler's step at `now`: send a deferred first page, or page the next level
    (the highest one due, when the scheduler comes late)."""
    if current.next_at is None or current.next_at > now or current.status not in ACTIVE:
        return current, []
    due = current.next_at
    levels_from = current.levels_from or current.raised_at or due
    if current.status == "deferred":
        return _page(current, matrix, "escalation.raised", 1, levels_from, now)
    if current.status != "raised":
        return replace(current, next_at=None), []
    return _page(current, matrix, "escalation.level_advanced", current.level + 1, levels_from, now)


class NotOpen(ValueError):
    """Acknowledging an escalation that is already resolved."""


def acknowledge(current: Escalation, by: str, at: datetime) -> Decision:
    """Someone owns it: no further level is paged. Acknowledging twice changes nothing."""
    if current.status == "acknowledged":
        return current, []
    if current.status == "resolved":
        raise NotOpen(f"escalation {current.id} is already resolved ({current.resolution})")
    acked = replace(current, status="acknowledged", acknowledged_by=by, next_at=None)
    return acked, [Emitted("escalation.acknowledged", current.level, at, {"by": by})]


def resolve(current: Escalation, why: str, at: datetime) -> Decision:
    """The SLA was met, the breach retracted, or the ticket resolved or closed."""
    if not current.is_open:
        return current, []
    resolved = replace(current, status="resolved", resolution=why, next_at=None)
    return resolved, [Emitted("escalation.resolved", current.level, at, {"why": why})]


def corrected(current: Escalation, deadline: datetime) -> Escalation:
    """A late event moved the breach instant: keep the episode, record the new deadline."""
    return replace(current, deadline=deadline)
