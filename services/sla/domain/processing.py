"""Apply one ticket event to a tracked ticket: dedup by sequence, hold gaps, fold with the core.

Delivery is at least once and a worker may restart from an older committed offset, so an event
at or below the tracked version is a duplicate and changes nothing. An event past the next
version waits in `held` until the missing ones arrive, then the run is applied in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from services.sla.domain.tracked import Incoming, Tracked
from shared.events.types import TicketEventType
from shared.policy import Policy
from shared.sla import Emitted, advance, evolve

Outcome = Literal["applied", "duplicate", "held"]


@dataclass(frozen=True, slots=True)
class Traced:
    """An emitted SLA event and the ticket event (if any) that caused it."""

    emitted: Emitted
    causation_id: str | None


@dataclass(slots=True)
class Decision:
    """What applying one event (or firing the due timers) decided: the ticket's new tracked
    state, whether the event counted, and the SLA events it emits."""

    tracked: Tracked
    outcome: Outcome
    emitted: list[Traced] = field(default_factory=list)


class ProcessingError(ValueError):
    """An event the core refuses (for instance a second `ticket.opened`)."""


def apply_event(
    tracked: Tracked | None, event: Incoming, ticket_id: str, partition: int, policy: Policy
) -> Decision:
    if tracked is None:
        tracked = Tracked(ticket_id, event.account, event.policy, partition, None)
    if event.sequence <= tracked.version or any(
        held.sequence == event.sequence for held in tracked.held
    ):
        return Decision(tracked, "duplicate")
    if event.sequence > tracked.version + 1:
        held = tuple(sorted((*tracked.held, event), key=lambda item: item.sequence))
        return Decision(replace(tracked, held=held), "held")
    traced: list[Traced] = []
    tracked = _fold(tracked, event, policy, traced)
    while tracked.held and tracked.held[0].sequence == tracked.version + 1:
        following, rest = tracked.held[0], tracked.held[1:]
        tracked = _fold(replace(tracked, held=rest), following, policy, traced)
    return Decision(tracked, "applied", traced)


def fire_due(tracked: Tracked, policy: Policy, watermark: datetime) -> Decision:
    """Fire the ticket's timers due strictly before `watermark` (see `watermark.py`)."""
    if tracked.sla is None:
        return Decision(tracked, "duplicate")
    step = advance(tracked.sla, policy, watermark)
    if not step.emitted:
        return Decision(tracked, "duplicate")
    traced = [Traced(emitted, None) for emitted in step.emitted]
    return Decision(replace(tracked, sla=step.state), "applied", traced)


def _fold(tracked: Tracked, event: Incoming, policy: Policy, traced: list[Traced]) -> Tracked:
    if tracked.sla is None and event.type != TicketEventType.OPENED:
        raise ProcessingError(f"{event.type} at sequence {event.sequence} before ticket.opened")
    try:
        step = evolve(tracked.sla, event.timeline(), policy)
    except ValueError as exc:
        raise ProcessingError(str(exc)) from exc
    traced.extend(Traced(emitted, event.event_id) for emitted in step.emitted)
    if event.type == TicketEventType.OPENED:
        number = event.data.get("ticket_number")
        return replace(tracked, sla=step.state, number=number if isinstance(number, str) else None)
    return replace(tracked, sla=step.state)
