"""The read model in PostgreSQL (`migrations/001_console.sql`, `002_history.sql`). Each
event's changes commit in one transaction with its tracking row (`processed_events`,
consumer `console`), so a redelivered event changes nothing."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.common.tracking import first_time
from services.console.domain.at_risk import AT_RISK_STATUSES, Deadline, TicketFacts
from services.console.domain.history import (
    OPEN,
    EscalationRow,
    HistoryEvent,
    Mark,
    TicketRecord,
    in_order,
)
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


_HISTORY = (
    "event_id, ticket_id, account, policy, type, occurred_at, sequence, recorded_at, "
    "schema_version, data"
)
_ESCALATION = (
    "escalation_id, ticket_id, number, account, policy, priority, metric, trigger, critical, "
    "level, status, deadline, opened_at, updated_at, acknowledged_by"
)
_TICKET = "ticket_id, number, account, policy, priority, ended"
HISTORY_PAGE = 500
"""Tickets per page when every history is read (the compliance report)."""


def _history(row: asyncpg.Record) -> HistoryEvent:
    data: dict[str, Any] = orjson.loads(row["data"])
    return HistoryEvent(
        row["event_id"],
        row["ticket_id"],
        row["account"],
        row["policy"],
        row["type"],
        row["occurred_at"],
        row["sequence"],
        row["recorded_at"],
        row["schema_version"],
        data,
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

    async def record(self, event: HistoryEvent) -> None:
        await self._conn.execute(
            f"INSERT INTO console_history ({_HISTORY}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            event.event_id,
            event.ticket_id,
            event.account,
            event.policy,
            event.type,
            event.at,
            event.sequence,
            event.recorded_at,
            event.schema_version,
            orjson.dumps(dict(event.data)).decode(),
        )

    async def mark(self, mark: Mark) -> None:
        await self._conn.execute(
            "INSERT INTO console_marks (event_id, ticket_id, at, kind, label) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            mark.event_id,
            mark.ticket_id,
            mark.at,
            mark.kind,
            mark.label,
        )

    async def escalation(self, escalation_id: uuid.UUID) -> EscalationRow | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ESCALATION} FROM console_escalations WHERE escalation_id = $1",
            escalation_id,
        )
        return None if row is None else EscalationRow(*row)

    async def put_escalation(self, row: EscalationRow) -> None:
        await self._conn.execute(
            f"INSERT INTO console_escalations ({_ESCALATION}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
            "ON CONFLICT (escalation_id) DO UPDATE SET number = EXCLUDED.number, "
            "level = EXCLUDED.level, status = EXCLUDED.status, deadline = EXCLUDED.deadline, "
            "updated_at = EXCLUDED.updated_at, acknowledged_by = EXCLUDED.acknowledged_by",
            row.escalation_id,
            row.ticket_id,
            row.number,
            row.account,
            row.policy,
            row.priority,
            row.metric,
            row.trigger,
            row.critical,
            row.level,
            row.status,
            row.deadline,
            row.opened_at,
            row.updated_at,
            row.acknowledged_by,
        )


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

    async def ticket_record(
        self, ticket_id: str, accounts: frozenset[str] | None
    ) -> TicketRecord | None:
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            row = await conn.fetchrow(
                f"SELECT {_TICKET} FROM console_tickets WHERE ticket_id = $1 "
                "AND ($2::text[] IS NULL OR account = ANY($2::text[]))",
                ticket_id,
                _accounts(accounts),
            )
            if row is None:
                return None
            events = await conn.fetch(
                f"SELECT {_HISTORY} FROM console_history WHERE ticket_id = $1", ticket_id
            )
            marks = await conn.fetch(
                "SELECT event_id, ticket_id, at, kind, label FROM console_marks "
                "WHERE ticket_id = $1 ORDER BY at, kind, label",
                ticket_id,
            )
        return TicketRecord(
            TicketFacts(*row),
            tuple(in_order([_history(event) for event in events])),
            tuple(Mark(*mark) for mark in marks),
        )

    async def histories(
        self, accounts: frozenset[str] | None
    ) -> AsyncIterator[tuple[TicketFacts, list[HistoryEvent]]]:
        scope = _accounts(accounts)
        async with (
            self._pool.acquire() as conn,
            conn.transaction(readonly=True, isolation="repeatable_read"),
        ):
            after = ""
            while True:
                tickets = await conn.fetch(
                    f"SELECT {_TICKET} FROM console_tickets WHERE ticket_id > $1 "
                    "AND ($2::text[] IS NULL OR account = ANY($2::text[])) "
                    "ORDER BY ticket_id LIMIT $3",
                    after,
                    scope,
                    HISTORY_PAGE,
                )
                if not tickets:
                    return
                ids = [row["ticket_id"] for row in tickets]
                rows = await conn.fetch(
                    f"SELECT {_HISTORY} FROM console_history WHERE ticket_id = ANY($1::text[])",
                    ids,
                )
                by_ticket: dict[str, list[HistoryEvent]] = {}
                for row in rows:
                    by_ticket.setdefault(row["ticket_id"], []).append(_history(row))
                for ticket in tickets:
                    facts = TicketFacts(*ticket)
                    yield facts, in_order(by_ticket.get(facts.ticket_id, []))
                after = ids[-1]

    async def escalations(
        self, accounts: frozenset[str] | None, limit: int = 500
    ) -> Sequence[EscalationRow]:
        rows = await self._pool.fetch(
            f"SELECT {_ESCALATION} FROM console_escalations WHERE status = ANY($1::text[]) "
            "AND ($2::text[] IS NULL OR account = ANY($2::text[])) "
            "ORDER BY CASE status WHEN 'raised' THEN 0 WHEN 'acknowledged' THEN 2 ELSE 1 END, "
            "opened_at, escalation_id LIMIT $3",
            list(OPEN),
            _accounts(accounts),
            limit,
        )
        return [EscalationRow(*row) for row in rows]

    async def open_escalation(
        self, escalation_id: uuid.UUID, accounts: frozenset[str] | None
    ) -> EscalationRow | None:
        row = await self._pool.fetchrow(
            f"SELECT {_ESCALATION} FROM console_escalations WHERE escalation_id = $1 "
            "AND status = ANY($2::text[]) AND ($3::text[] IS NULL OR account = ANY($3::text[]))",
            escalation_id,
            list(OPEN),
            _accounts(accounts),
        )
        return None if row is None else EscalationRow(*row)

    async def clear(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "TRUNCATE console_deadlines, console_tickets, console_history, console_marks, "
                "console_escalations; "
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
