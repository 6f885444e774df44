"""The console's projection: ticket, SLA and escalation events applied to the at-risk read
model, each once (by event id), and the at-risk query."""

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
from services.console.service_layer.ports import AtRiskQuery, ReadModel
from shared.events.types import TicketEventType

SERVICE = "console"
ENDS = frozenset(
    {TicketEventType.RESOLVED, TicketEventType.CLOSED, TicketEventType.CLOSED_BY_TIMEOUT}
)


class Projection:
    def __init__(self, model: ReadModel) -> None:
        self._model = model

    async def on_ticket(
        self,
        event_id: uuid.UUID,
        kind: str,
        facts: TicketFacts,
        at: datetime,
    ) -> str:
        """A ticket event: `ticket.opened` and severity changes name the ticket, resolved
        and closed end its deadlines, reopened brings it back."""
        async with self._model.applying(event_id, at) as unit:
            if unit is None:
                return "duplicate"
            known = await unit.ticket(facts.ticket_id)
            if kind in ENDS:
                ended = known or facts
                await unit.put_ticket(_ended(ended, True))
                await unit.drop_deadlines(facts.ticket_id)
                return "ended"
            if kind == TicketEventType.REOPENED:
                await unit.put_ticket(_ended(known or facts, False))
                return "reopened"
            if kind not in (TicketEventType.OPENED, TicketEventType.SEVERITY_CHANGED):
                return "ignored"
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

    async def on_escalation(
        self, event_id: uuid.UUID, change: EscalationChange, at: datetime
    ) -> str:
        """An escalation event: the metric's paged level, its acknowledgement."""
        async with self._model.applying(event_id, at) as unit:
            if unit is None:
                return "duplicate"
            known = await unit.ticket(change.ticket_id)  # one change of a ticket at a time
            current = _metric(await unit.deadlines(change.ticket_id), change.metric)
            if known is None or known.ended or current is None:
                return "ignored"
            await unit.put_deadline(escalation_changed(current, change))
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
