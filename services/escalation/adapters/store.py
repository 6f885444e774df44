"""PostgreSQL persistence of escalations, and the account directory (contacts by level and the
account's matrix override, from the tables intake maintains)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.escalation.domain.escalation import ACTIVE, Escalation, TicketFacts

COLUMNS = tuple(field.name for field in fields(Escalation))
_ACTIVE = list(ACTIVE)


def _from_row(row: asyncpg.Record) -> Escalation:
    values = {name: row[name] for name in COLUMNS}
    values["id"] = uuid.UUID(str(values["id"]))
    return Escalation(**values)


async def open_for(conn: asyncpg.Connection, ticket_id: str, metric: str) -> Escalation | None:
    """The open episode of (ticket, metric), locked for this transaction."""
    row = await conn.fetchrow(
        "SELECT * FROM escalations WHERE ticket_id = $1 AND metric = $2 "
        "AND status = ANY($3::text[]) FOR UPDATE",
        ticket_id,
        metric,
        _ACTIVE,
    )
    return _from_row(row) if row is not None else None


async def open_of_ticket(conn: asyncpg.Connection, ticket_id: str) -> list[Escalation]:
    rows = await conn.fetch(
        "SELECT * FROM escalations WHERE ticket_id = $1 AND status = ANY($2::text[]) "
        "ORDER BY opened_at FOR UPDATE",
        ticket_id,
        _ACTIVE,
    )
    return [_from_row(row) for row in rows]


async def get(
    conn: asyncpg.Connection | asyncpg.Pool, escalation_id: uuid.UUID, *, lock: bool = False
) -> Escalation | None:
    query = "SELECT * FROM escalations WHERE id = $1" + (" FOR UPDATE" if lock else "")
    row = await conn.fetchrow(query, escalation_id)
    return _from_row(row) if row is not None else None


async def save(conn: asyncpg.Connection, escalation: Escalation) -> None:
    values = [getattr(escalation, name) for name in COLUMNS]
    placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
    updates = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS if name != "id")
    await conn.execute(
        f"INSERT INTO escalations ({', '.join(COLUMNS)}) VALUES ({placeholders}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = clock_timestamp()",
        *values,
    )


async def due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Escalation]:
    """Escalations whose next step is due, locked (SKIP LOCKED: replicas share the work)."""
    rows = await conn.fetch(
        "SELECT * FROM escalations WHERE next_at <= $1 ORDER BY next_at LIMIT $2 "
        "FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [_from_row(row) for row in rows]


async def next_due(pool: asyncpg.Pool) -> datetime | None:
    value: datetime | None = await pool.fetchval(
        "SELECT min(next_at) FROM escalations WHERE next_at IS NOT NULL"
    )
    return value


async def listing(
    pool: asyncpg.Pool,
    accounts: Sequence[str],
    ticket_id: str | None,
    status: str | None,
    limit: int,
) -> list[Escalation]:
    rows = await pool.fetch(
        "SELECT * FROM escalations WHERE account = ANY($1::text[]) "
        "AND ($2::text IS NULL OR ticket_id = $2) AND ($3::text IS NULL OR status = $3) "
        "ORDER BY opened_at DESC LIMIT $4",
        list(accounts),
        ticket_id,
        status,
        limit,
    )
    return [_from_row(row) for row in rows]


async def remember_ticket(conn: asyncpg.Connection, facts: TicketFacts) -> None:
    await conn.execute(
        "INSERT INTO escalation_tickets (ticket_id, account, policy, priority, plan, number) "
        "VALUES ($1, $2, $3, coalesce($4, ''), $5, $6) ON CONFLICT (ticket_id) DO UPDATE SET "
        "priority = coalesce($4, escalation_tickets.priority), "
        "plan = coalesce($5, escalation_tickets.plan), "
        "number = coalesce($6, escalation_tickets.number)",
        facts.ticket_id,
        facts.account,
        facts.policy,
        facts.priority,
        facts.plan,
        facts.number,
    )


async def ticket(conn: asyncpg.Connection, ticket_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM escalation_tickets WHERE ticket_id = $1", ticket_id
    )
    return row


async def contacts_by_level(conn: asyncpg.Connection, account: str) -> dict[int, list[str]]:
    """The account's escalation contacts per level (intake's `contacts` table); a contact
    without a level is on level 1."""
    rows = await conn.fetch(
        "SELECT coalesce(level, 1) AS level, email FROM contacts "
        "WHERE account_id = $1 AND role = 'escalation' ORDER BY level, email",
        account,
    )
    out: dict[int, list[str]] = {}
    for row in rows:
        out.setdefault(row["level"], []).append(row["email"])
    return out


async def matrix_override(conn: asyncpg.Connection, account: str) -> dict[str, Any]:
    raw = await conn.fetchval("SELECT escalation FROM accounts WHERE id = $1", account)
    if raw is None:
        return {}
    value: dict[str, Any] = orjson.loads(raw)
    return value


async def open_counts(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT status, count(*) AS n FROM escalations WHERE status <> 'resolved' GROUP BY status"
    )
    return {row["status"]: int(row["n"]) for row in rows}
