"""The read model in PostgreSQL (`migrations/001_console.sql`). Each event's changes commit
in one transaction with its tracking row (`processed_events`, consumer `console`), so a
redelivered event changes nothing."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from services.common.tracking import first_time
from services.console.domain.at_risk import AT_RISK_STATUSES, Deadline, TicketFacts
from services.console.service_layer.ports import AtRiskQuery, Projecting, ProjectionStatus

CONSUMER = "console"
_COLUMNS = (
    "ticket_id, metric, number, account, policy, priority, due_at, warn_at, status, "
    "escalation_level, acknowledged, updated_at"
)
_SCOPE = (
    "status = ANY($1::text[]) AND ($2::text[] IS NULL OR account = ANY($2::text[])) "
    "AND ($3::text IS NULL OR account = $3) AND ($4::text IS NULL OR policy = $4) "
    "AND ($5::text IS NULL OR priority = $5)"
)
_NEXT_FIRST = (
    "CASE WHEN due_at IS NULL THEN 2 WHEN status = 'paused' THEN 1 ELSE 0 END, "
    "due_at, ticket_id, metric"
)


def _deadline(row: asyncpg.Record) -> Deadline:
    return Deadline(
        ticket_id=row["ticket_id"],
        number=row["number"],
        account=row["account"],
        policy=row["policy"],
        priority=row["priority"],
        metric=row["metric"],
        due_at=row["due_at"],
        warn_at=row["warn_at"],
        status=row["status"],
        escalation_level=row["escalation_level"],
        acknowledged=row["acknowledged"],
        updated_at=row["updated_at"],
    )


def _accounts(accounts: frozenset[str] | None) -> list[str] | None:
    return None if accounts is None else sorted(accounts)


class _Unit:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        # A lock on the ticket's id, not its row: it holds before the first row exists too.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 724051))", ticket_id
        )
        row = await self._conn.fetchrow(
            "SELECT ticket_id, number, account, policy, priority, ended FROM console_tickets "
            "WHERE ticket_id = $1",
            ticket_id,
        )
        return None if row is None else TicketFacts(*row)

    async def put_ticket(self, facts: TicketFacts) -> None:
        await self._conn.execute(
            "INSERT INTO console_tickets (ticket_id, number, account, policy, priority, ended) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ticket_id) DO UPDATE SET "
            "number = EXCLUDED.number, account = EXCLUDED.account, policy = EXCLUDED.policy, "
            "priority = EXCLUDED.priority, ended = EXCLUDED.ended",
            facts.ticket_id,
            facts.number,
            facts.account,
            facts.policy,
            facts.priority,
            facts.ended,
        )

    async def deadlines(self, ticket_id: str) -> list[Deadline]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM console_deadlines WHERE ticket_id = $1 ORDER BY metric",
            ticket_id,
        )
        return [_deadline(row) for row in rows]

    async def put_deadline(self, row: Deadline) -> None:
        await self._conn.execute(
            f"INSERT INTO console_deadlines ({_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
            "ON CONFLICT (ticket_id, metric) DO UPDATE SET number = EXCLUDED.number, "
            "account = EXCLUDED.account, policy = EXCLUDED.policy, "
            "priority = EXCLUDED.priority, due_at = EXCLUDED.due_at, "
            "warn_at = EXCLUDED.warn_at, status = EXCLUDED.status, "
            "escalation_level = EXCLUDED.escalation_level, "
            "acknowledged = EXCLUDED.acknowledged, updated_at = EXCLUDED.updated_at",
            row.ticket_id,
            row.metric,
            row.number,
            row.account,
            row.policy,
            row.priority,
            row.due_at,
            row.warn_at,
            row.status,
            row.escalation_level,
            row.acknowledged,
            row.updated_at,
        )

    async def drop_deadline(self, ticket_id: str, metric: str) -> None:
        await self._conn.execute(
            "DELETE FROM console_deadlines WHERE ticket_id = $1 AND metric = $2",
            ticket_id,
            metric,
        )

    async def drop_deadlines(self, ticket_id: str) -> None:
        await self._conn.execute("DELETE FROM console_deadlines WHERE ticket_id = $1", ticket_id)


class PostgresReadModel:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def applying(
        self, event_id: uuid.UUID, event_at: datetime
    ) -> AsyncIterator[Projecting | None]:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, CONSUMER, event_id):
                yield None
                return
            yield _Unit(conn)
            await conn.execute(
                "UPDATE console_projection SET changes = changes + 1, "
                "newest_event_at = GREATEST(newest_event_at, $1)",
                event_at,
            )

    async def at_risk(self, query: AtRiskQuery) -> Sequence[Deadline]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM console_deadlines WHERE {_SCOPE} "
            f"ORDER BY {_NEXT_FIRST} LIMIT $6",
            list(AT_RISK_STATUSES),
            _accounts(query.accounts),
            query.account,
            query.policy,
            query.priority,
            query.limit,
        )
        return [_deadline(row) for row in rows]

    async def status(self) -> ProjectionStatus:
        row = await self._pool.fetchrow("SELECT newest_event_at, changes FROM console_projection")
        if row is None:
            return ProjectionStatus(None, 0)
        return ProjectionStatus(row["newest_event_at"], row["changes"])

    async def filters(self, accounts: frozenset[str] | None) -> dict[str, list[str]]:
        rows = await self._pool.fetch(
            "SELECT DISTINCT account, policy, priority FROM console_deadlines "
            "WHERE status = ANY($1::text[]) AND ($2::text[] IS NULL OR account = ANY($2))",
            list(AT_RISK_STATUSES),
            _accounts(accounts),
        )
        return {
            name: sorted({row[name] for row in rows}) for name in ("account", "policy", "priority")
        }

    async def clear(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "TRUNCATE console_deadlines, console_tickets; "
                "UPDATE console_projection SET newest_event_at = NULL, changes = 0"
            )
            await conn.execute("DELETE FROM processed_events WHERE consumer = $1", CONSUMER)


class PostgresSessions:
    """What a console session needs of intake's `api_keys` table (same database): the
    accounts of a key that is still valid (a revoked key ends its sessions)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def accounts_of(self, key_id: str) -> frozenset[str] | None:
        row = await self._pool.fetchrow(
            "SELECT accounts FROM api_keys WHERE id = $1 "
            "AND (revoked_at IS NULL OR revoked_at > now())",
            key_id,
        )
        return None if row is None else frozenset(row["accounts"])
