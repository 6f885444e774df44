"""The escalation ports on PostgreSQL (asyncpg): a unit of work is one transaction on one
pooled connection, its outgoing events go to the service outbox in that transaction."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.common import outbox
from services.common.tracking import first_time
from services.escalation.adapters import store
from services.escalation.domain.escalation import Escalation, TicketFacts
from shared.events.escalation import EscalationEvent
from shared.topics import ESCALATIONS

SERVICE = "escalation"


def _facts(row: asyncpg.Record | None) -> TicketFacts | None:
    if row is None:
        return None
    return TicketFacts(
        row["ticket_id"],
        row["account"],
        row["policy"],
        row["priority"] or None,
        row["plan"],
        row["number"],
    )


class PostgresEscalationWork:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def first_time(self, event_id: uuid.UUID) -> bool:
        return await first_time(self._conn, SERVICE, event_id)

    async def open_for(self, ticket_id: str, metric: str) -> Escalation | None:
        return await store.open_for(self._conn, ticket_id, metric)

    async def open_of_ticket(self, ticket_id: str) -> list[Escalation]:
        return await store.open_of_ticket(self._conn, ticket_id)

    async def get(self, escalation_id: uuid.UUID) -> Escalation | None:
        return await store.get(self._conn, escalation_id, lock=True)

    async def save(self, escalation: Escalation) -> None:
        await store.save(self._conn, escalation)

    async def due(self, now: datetime, limit: int) -> list[Escalation]:
        return await store.due(self._conn, now, limit)

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        return _facts(await store.ticket(self._conn, ticket_id))

    async def remember_ticket(self, facts: TicketFacts) -> None:
        await store.remember_ticket(self._conn, facts)

    async def contacts_by_level(self, account: str) -> dict[int, list[str]]:
        return await store.contacts_by_level(self._conn, account)

    async def matrix_override(self, account: str) -> dict[str, Any]:
        return await store.matrix_override(self._conn, account)

    async def publish(self, event: EscalationEvent) -> None:
        await outbox.append(
            self._conn,
            SERVICE,
            ESCALATIONS.name,
            event.ticket_id,
            event.model_dump(mode="json"),
            event.type,
        )


class PostgresEscalationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresEscalationWork]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresEscalationWork(conn)

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        async with self._pool.acquire() as conn:
            return _facts(await store.ticket(conn, ticket_id))

    async def get(self, escalation_id: uuid.UUID) -> Escalation | None:
        return await store.get(self._pool, escalation_id)

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[Escalation]:
        return await store.listing(self._pool, accounts, ticket_id, status, limit)

    async def next_due(self) -> datetime | None:
        return await store.next_due(self._pool)

    async def open_counts(self) -> dict[str, int]:
        return await store.open_counts(self._pool)

    async def outbox_pending(self) -> int:
        return await outbox.pending(self._pool, SERVICE)
