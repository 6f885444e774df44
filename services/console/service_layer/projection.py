"""The console's projection: ticket, SLA, escalation and notification events applied to the
read model, each once (by event id): the at-risk deadlines, every ticket's history, the
markers of its timeline and each escalation's state; and the at-risk query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from services.console.domain.at_risk import (
    ClockChange,
    Deadline,
    EscalationChange,
    TicketFacts,
    clock_changed,
    escalation_changed,
    facts_from_clock,
    with_facts,
)
from services.console.domain.history import (
    EscalationSeen,
    HistoryEvent,
    Mark,
    escalation_mark,
    escalation_row,
)
from services.console.service_layer.ports import AtRiskQuery, ReadModel
from shared.events.types import TicketEventType

SERVICE = "console"
ENDS = frozenset(
    {TicketEventType.RESOLVED, TicketEventType.CLOSED, TicketEventType.CLOSED_BY_TIMEOUT}
)


class Projection:
    def __init__(self, model: ReadModel) -> None:
        self._model = model

    async def on_ticket(self, event: HistoryEvent, facts: TicketFacts) -> str:
        """A ticket event, kept in the ticket's history: `ticket.opened` and severity changes
        name the ticket, resolved and closed end its deadlines, reopened brings it back."""
        kind = event.type
        async with self._model.applying(event.event_id, event.at) as unit:
            if unit is None:
                return "duplicate"
            known = await unit.ticket(facts.ticket_id)
            await unit.record(event)
            if known is None and kind not in ENDS:
                await unit.put_ticket(facts)
            if kind in ENDS:
                ended = known or facts
                await unit.put_ticket(_ended(ended, True))
                await unit.drop_deadlines(facts.ticket_id)
                return "ended"
            if kind == TicketEventType.REOPENED:
                await unit.put_ticket(_ended(known or facts, False))
                return "reopened"
            if kind not in (TicketEventType.OPENED, TicketEventType.SEVERITY_CHANGED):
                return "recorded"
            named = _named(known, facts)
            await unit.put_ticket(named)
            for row in await unit.deadlines(facts.ticket_id):
                await unit.put_deadline(with_facts(row, named))
            return "applied"

    async def on_clock(self, event_id: uuid.UUID, change: ClockChange, at: datetime) -> str:
        """An SLA event: a metric's deadline set, moved, paused, warned, breached or met."""
        async with self._model.applying(event_id, at) as unit:
            if unit is None:
                return "duplicate"
            known = await unit.ticket(change.ticket_id)
            if known is None:
                known = facts_from_clock(change)
                await unit.put_ticket(known)
            if known.ended:
                return "ignored"
            current = _metric(await unit.deadlines(change.ticket_id), change.metric)
            updated = clock_changed(current, change)
            if updated is None:
                if current is not None:
                    await unit.drop_deadline(change.ticket_id, change.metric)
                    return "removed"
                return "ignored"
            if updated is current:
                return "ignored"
            await unit.put_deadline(with_facts(updated, known))
            return "applied"

    async def on_escalation(self, seen: EscalationSeen) -> str:
        """An escalation event: the escalation's state, its page or ack on the timeline, and
        the metric's paged level and acknowledgement on the at-risk list."""
        change = EscalationChange(seen.type, seen.ticket_id, seen.metric, seen.level, seen.at)
        async with self._model.applying(seen.event_id, seen.at) as unit:
            if unit is None:
                return "duplicate"
            known = await unit.ticket(change.ticket_id)  # one change of a ticket at a time
            await unit.put_escalation(
                escalation_row(await unit.escalation(seen.escalation_id), seen)
            )
            mark = escalation_mark(seen)
            if mark is not None:
                await unit.mark(mark)
            current = _metric(await unit.deadlines(change.ticket_id), change.metric)
            if known is None or known.ended or current is None:
                return "ignored"
            await unit.put_deadline(escalation_changed(current, change))
            return "applied"

    async def on_notification(self, mark: Mark | None, event_id: uuid.UUID, at: datetime) -> str:
        """A notification outcome: a delivered one is a marker of its ticket's timeline."""
        async with self._model.applying(event_id, at) as unit:
            if unit is None:
                return "duplicate"
            if mark is None:
                return "ignored"
            await unit.ticket(mark.ticket_id)
            await unit.mark(mark)
            return "applied"

    async def at_risk(self, query: AtRiskQuery) -> Sequence[Deadline]:
        """Open deadlines of the query's accounts, the next one first."""
        return await self._model.at_risk(query)


def _metric(rows: list[Deadline], metric: str) -> Deadline | None:
    return next((row for row in rows if row.metric == metric), None)


def _named(known: TicketFacts | None, facts: TicketFacts) -> TicketFacts:
    if known is None:
        return facts
    return TicketFacts(
        facts.ticket_id,
        facts.number or known.number,
        facts.account,
        facts.policy,
        facts.priority,
        known.ended,
    )


def _ended(facts: TicketFacts, ended: bool) -> TicketFacts:
    return TicketFacts(
        facts.ticket_id, facts.number, facts.account, facts.policy, facts.priority, ended
    )
