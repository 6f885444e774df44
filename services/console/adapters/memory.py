"""The read model in memory: the twin of the PostgreSQL one for the use-case tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.console.domain.at_risk import (
    AT_RISK_STATUSES,
    Deadline,
    TicketFacts,
    next_deadline_order,
)
from services.console.domain.history import (
    OPEN,
    EscalationRow,
    HistoryEvent,
    Mark,
    TicketRecord,
    in_order,
)
from services.console.service_layer.ports import AtRiskQuery, Projecting, ProjectionStatus


@dataclass
class _Tables:
    tickets: dict[str, TicketFacts] = field(default_factory=dict)
    rows: dict[tuple[str, str], Deadline] = field(default_factory=dict)
    history: dict[uuid.UUID, HistoryEvent] = field(default_factory=dict)
    marks: dict[uuid.UUID, Mark] = field(default_factory=dict)
    escalations: dict[uuid.UUID, EscalationRow] = field(default_factory=dict)

    def copy(self) -> _Tables:
        return _Tables(
            dict(self.tickets),
            dict(self.rows),
            dict(self.history),
            dict(self.marks),
            dict(self.escalations),
        )


class _Unit(_Tables):
    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        return self.tickets.get(ticket_id)

    async def put_ticket(self, facts: TicketFacts) -> None:
        self.tickets[facts.ticket_id] = facts

    async def deadlines(self, ticket_id: str) -> list[Deadline]:
        return sorted(
            (row for key, row in self.rows.items() if key[0] == ticket_id),
            key=lambda row: row.metric,
        )

    async def put_deadline(self, row: Deadline) -> None:
        self.rows[(row.ticket_id, row.metric)] = row

    async def drop_deadline(self, ticket_id: str, metric: str) -> None:
        self.rows.pop((ticket_id, metric), None)

    async def drop_deadlines(self, ticket_id: str) -> None:
        for key in [key for key in self.rows if key[0] == ticket_id]:
            del self.rows[key]

    async def record(self, event: HistoryEvent) -> None:
        self.history.setdefault(event.event_id, event)

    async def mark(self, mark: Mark) -> None:
        self.marks.setdefault(mark.event_id, mark)

    async def escalation(self, escalation_id: uuid.UUID) -> EscalationRow | None:
        return self.escalations.get(escalation_id)

    async def put_escalation(self, row: EscalationRow) -> None:
        self.escalations[row.escalation_id] = row


class MemoryReadModel:
    def __init__(self) -> None:
        self.tables = _Tables()
        self.seen: set[uuid.UUID] = set()
        self.newest: datetime | None = None
        self.changes = 0

    @property
    def tickets(self) -> dict[str, TicketFacts]:
        return self.tables.tickets

    @property
    def rows(self) -> dict[tuple[str, str], Deadline]:
        return self.tables.rows

    @contextlib.asynccontextmanager
    async def applying(
        self, event_id: uuid.UUID, event_at: datetime
    ) -> AsyncIterator[Projecting | None]:
        if event_id in self.seen:
            yield None
            return
        copy = self.tables.copy()
        unit = _Unit(copy.tickets, copy.rows, copy.history, copy.marks, copy.escalations)
        yield unit  # an exception leaves everything as it was, like a rollback
        self.tables = unit
        self.seen.add(event_id)
        self.newest = event_at if self.newest is None else max(self.newest, event_at)
        self.changes += 1

    async def at_risk(self, query: AtRiskQuery) -> Sequence[Deadline]:
        found = [
            row
            for row in self.rows.values()
            if row.status in AT_RISK_STATUSES
            and (query.accounts is None or row.account in query.accounts)
            and (query.account is None or row.account == query.account)
            and (query.policy is None or row.policy == query.policy)
            and (query.priority is None or row.priority == query.priority)
        ]
        return sorted(found, key=next_deadline_order)[: query.limit]

    async def status(self) -> ProjectionStatus:
        return ProjectionStatus(self.newest, self.changes)

    async def filters(self, accounts: frozenset[str] | None) -> dict[str, list[str]]:
        rows = [
            row
            for row in self.rows.values()
            if row.status in AT_RISK_STATUSES and (accounts is None or row.account in accounts)
        ]
        return {
            "account": sorted({row.account for row in rows}),
            "policy": sorted({row.policy for row in rows}),
            "priority": sorted({row.priority for row in rows}),
        }

    async def ticket_record(
        self, ticket_id: str, accounts: frozenset[str] | None
    ) -> TicketRecord | None:
        facts = self.tickets.get(ticket_id)
        if facts is None or (accounts is not None and facts.account not in accounts):
            return None
        events = [e for e in self.tables.history.values() if e.ticket_id == ticket_id]
        marks = sorted(
            (m for m in self.tables.marks.values() if m.ticket_id == ticket_id),
            key=lambda m: (m.at, m.kind, m.label),
        )
        return TicketRecord(facts, tuple(in_order(events)), tuple(marks))

    async def histories(
        self, accounts: frozenset[str] | None
    ) -> AsyncIterator[tuple[TicketFacts, list[HistoryEvent]]]:
        for ticket_id in sorted(self.tickets):
            facts = self.tickets[ticket_id]
            if accounts is None or facts.account in accounts:
                events = [e for e in self.tables.history.values() if e.ticket_id == ticket_id]
                yield facts, in_order(events)

    async def escalations(
        self, accounts: frozenset[str] | None, limit: int = 500
    ) -> Sequence[EscalationRow]:
        order = {"raised": 0, "acknowledged": 2}
        found = [
            row
            for row in self.tables.escalations.values()
            if row.status in OPEN and (accounts is None or row.account in accounts)
        ]
        found.sort(key=lambda r: (order.get(r.status, 1), r.opened_at, r.escalation_id))
        return found[:limit]

    async def open_escalation(
        self, escalation_id: uuid.UUID, accounts: frozenset[str] | None
    ) -> EscalationRow | None:
        row = self.tables.escalations.get(escalation_id)
        if row is None or row.status not in OPEN:
            return None
        return row if accounts is None or row.account in accounts else None

    async def clear(self) -> None:
        self.tables, self.seen = _Tables(), set()
        self.newest, self.changes = None, 0
