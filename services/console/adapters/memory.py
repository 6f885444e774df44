"""The read model in memory: the twin of the PostgreSQL one for the use-case tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from services.console.domain.at_risk import (
    AT_RISK_STATUSES,
    Deadline,
    TicketFacts,
    next_deadline_order,
)
from services.console.service_layer.ports import AtRiskQuery, Projecting, ProjectionStatus


class _Unit:
    def __init__(
        self, tickets: dict[str, TicketFacts], rows: dict[tuple[str, str], Deadline]
    ) -> None:
        self.tickets = tickets
        self.rows = rows

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


class MemoryReadModel:
    def __init__(self) -> None:
        self.tickets: dict[str, TicketFacts] = {}
        self.rows: dict[tuple[str, str], Deadline] = {}
        self.seen: set[uuid.UUID] = set()
        self.newest: datetime | None = None
        self.changes = 0

    @contextlib.asynccontextmanager
    async def applying(
        self, event_id: uuid.UUID, event_at: datetime
    ) -> AsyncIterator[Projecting | None]:
        if event_id in self.seen:
            yield None
            return
        unit = _Unit(dict(self.tickets), dict(self.rows))
        yield unit  # an exception leaves everything as it was, like a rollback
        self.tickets, self.rows = unit.tickets, unit.rows
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

    async def clear(self) -> None:
        self.tickets, self.rows, self.seen = {}, {}, set()
        self.newest, self.changes = None, 0
