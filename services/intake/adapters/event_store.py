"""The PostgreSQL event store: events keyed (ticket_id, version), outbox in the same transaction.

`recorded_at` comes from the database clock (`clock_timestamp()` at insert) and is kept in its
own column; the stored envelope JSON leaves it out and reads put it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from services.common import tracing
from services.common.migrations import apply_migrations
from services.intake.adapters.append_rows import (
    checked,
    envelope_json,
    row_values,
    ticket_from_row,
)
from services.intake.adapters.group_commit import GroupCommit
from services.intake.domain.errors import TicketNotFound, TicketNumberTaken, VersionConflict
from services.intake.domain.lifecycle import OPEN, TransitionRefused, next_status
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope

__all__ = ["EventStore", "TicketNotFound", "VersionConflict", "envelope_from_row", "migrate"]

NOTIFY_CHANNEL = "ticketflow_outbox"
OPTIMISTIC_ATTEMPTS = 3
# Event, outbox row and read-model update, only if the ticket is still at the version the
# event follows ($2 - 1); NULL when another writer got there first. One statement, so one
# implicit transaction: all three rows or none.
APPEND_IF_UNCHANGED = """
WITH u AS (
    UPDATE tickets SET version = $2, status = $7, priority = $8, resolution = $9,
        closed_reason = $10, updated_at = clock_timestamp()
    WHERE ticket_id = $1 AND version = $2 - 1
    RETURNING updated_at),
e AS (
    INSERT INTO events (ticket_id, version, event_id, type, occurred_at, envelope, recorded_at)
    SELECT $1, $2, $3, $4, $5, $6::jsonb, u.updated_at FROM u
    RETURNING recorded_at),
o AS (INSERT INTO outbox (ticket_id, version, event_id) SELECT $1, $2, $3 FROM e)
SELECT recorded_at FROM e
"""


MIGRATION_LOCK = 724001


def _traced(envelope: Envelope, trace: dict[str, str]) -> Envelope:
    """`envelope` carrying the trace context it is stored in (W3C fields; none: as it is)."""
    if not trace or envelope.traceparent is not None:
        return envelope
    return envelope.model_copy(update=trace)


def _stamping(build: Any, trace: dict[str, str]) -> Any:
    def built(ticket: TicketRow) -> Envelope:
        return _traced(build(ticket), trace)

    return built


def _span_attributes(envelope: Envelope) -> dict[str, str]:
    return {
        "ticketflow.ticket_id": envelope.subject,
        "ticketflow.event_id": str(envelope.id),
        "ticketflow.event_type": envelope.type,
        "ticketflow.account": envelope.account,
    }


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply every migration in order (each is idempotent); return their names."""
    return await apply_migrations(pool, "services.intake.adapters", MIGRATION_LOCK)


def envelope_from_row(row: asyncpg.Record) -> Envelope:
    body: dict[str, Any] = orjson.loads(row["envelope"])
    body["recorded_at"] = row["recorded_at"]
    return Envelope.model_validate(body)


class EventStore:
    """`on_commit` is called after every transaction that added outbox rows (the relay's
    wake-up); NOTIFY is not sent inside these transactions because PostgreSQL serialises the
    commits of notifying transactions, which would cost group commit."""

    def __init__(self, pool: asyncpg.Pool, on_commit: Callable[[], None] | None = None) -> None:
        self._pool = pool
        self._on_commit = on_commit or (lambda: None)
        self._group = GroupCommit(pool, self._on_commit)
        self._single_writes = 0

    @property
    def append_statements(self) -> int:
        """Statements that wrote appended events (batched or alone) since start."""
        return self._group.statements + self._single_writes

    async def _insert(self, conn: asyncpg.Connection, envelope: Envelope) -> Envelope:
        recorded_at = await conn.fetchval(
            "WITH e AS (INSERT INTO events (ticket_id, version, event_id, type, occurred_at, "
            "envelope) VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING recorded_at), "
            "o AS (INSERT INTO outbox (ticket_id, version, event_id) VALUES ($1, $2, $3)) "
            "SELECT recorded_at FROM e",
            uuid.UUID(envelope.subject),
            envelope.sequence,
            envelope.id,
            envelope.type,
            envelope.time,
            envelope_json(envelope),
        )
        return envelope.model_copy(update={"recorded_at": recorded_at})

    async def open_ticket(self, envelope: Envelope) -> Envelope:
        """Store a new ticket's first event and its row; TicketNumberTaken when its number is
        already in use. The event keeps the trace it was stored in (`traceparent`)."""
        with tracing.span("event_store open_ticket", attributes=_span_attributes(envelope)):
            envelope = _traced(envelope, tracing.current())
            try:
                return await self._open_ticket(envelope)
            except asyncpg.UniqueViolationError:
                raise TicketNumberTaken(envelope.data["ticket_number"]) from None

    async def _open_ticket(self, envelope: Envelope) -> Envelope:
        data = envelope.data
        async with self._pool.acquire() as conn, conn.transaction():
            recorded = await self._insert(conn, envelope)
            await conn.execute(
                "INSERT INTO tickets (ticket_id, account_id, number, policy, priority, plan, "
                "status, version, opened_at, updated_at, channel) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10)",
                uuid.UUID(envelope.subject),
                envelope.account,
                data["ticket_number"],
                envelope.policy,
                data["priority"],
                data.get("plan"),
                OPEN,
                envelope.time,
                recorded.recorded_at,
                data.get("channel"),
            )
        self._on_commit()
        return recorded

    async def append(
        self,
        ticket_id: uuid.UUID,
        build: Any,
        expected_version: int | None = None,
    ) -> Envelope:
        """Append the event `build(ticket_row)` returns, at the ticket's next version.

        Concurrent writers of one ticket each get their own version, in arrival order; with
        `expected_version` a writer that read an older version gets VersionConflict. A
        transition that makes no sense for the ticket's status raises TransitionRefused.
        """
        envelope, _status = await self.append_with_status(ticket_id, build, expected_version)
        return envelope

    async def append_with_status(
        self,
        ticket_id: uuid.UUID,
        build: Any,
        expected_version: int | None = None,
        accounts: frozenset[str] | None = None,
    ) -> tuple[Envelope, str]:
        """`append`, also returning the ticket's status after the event. With `accounts`, a
        ticket of another account is TicketNotFound.

        Concurrent appends are written together (`GroupCommit`). One whose ticket another
        process moved first is retried alone, optimistically: read the ticket, build the
        event, then write it with one statement that only succeeds if the ticket is still at
        the version read (its own transaction: two round trips, no BEGIN/COMMIT). After
        `OPTIMISTIC_ATTEMPTS` lost races it takes the row lock instead, so a hot ticket still
        makes progress.
        """
        attributes = {"ticketflow.ticket_id": str(ticket_id)}
        with tracing.span("event_store append", attributes=attributes):
            trace = tracing.current()
            if trace:  # the group's writer task runs in another request's context
                build = _stamping(build, trace)
            return await self._append_with_status(ticket_id, build, expected_version, accounts)

    async def _append_with_status(
        self,
        ticket_id: uuid.UUID,
        build: Any,
        expected_version: int | None,
        accounts: frozenset[str] | None,
    ) -> tuple[Envelope, str]:
        grouped = await self._group.append(ticket_id, build, expected_version, accounts)
        if grouped is not None:
            return grouped
        async with self._pool.acquire() as conn:
            for _attempt in range(OPTIMISTIC_ATTEMPTS):
                ticket = await self._read(
                    conn, ticket_id, accounts, expected_version=expected_version
                )
                envelope = build(ticket)
                status = next_status(ticket.status, envelope.type)
                recorded_at = await conn.fetchval(
                    APPEND_IF_UNCHANGED, *row_values(ticket, envelope, status)
                )
                self._single_writes += 1
                if recorded_at is not None:
                    self._on_commit()
                    return envelope.model_copy(update={"recorded_at": recorded_at}), status
            async with conn.transaction():
                ticket = await self._read(
                    conn, ticket_id, accounts, lock=True, expected_version=expected_version
                )
                envelope = build(ticket)
                recorded = await self._append_locked(conn, ticket, envelope)
        self._on_commit()
        return recorded, next_status(ticket.status, envelope.type)

    async def apply_command(
        self, command_id: uuid.UUID, command: str, ticket_id: uuid.UUID, based_on: int, build: Any
    ) -> tuple[str, str]:
        """Apply a command exactly once, only at the version it was based on.

        Returns (outcome, detail): `applied`, `superseded` (a newer event moved the ticket),
        `refused` (the transition no longer makes sense) or `duplicate` (seen before). The
        outcome row is written in the same transaction as the event.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            seen = await conn.fetchrow(
                "SELECT outcome, detail FROM command_log WHERE command_id = $1", command_id
            )
            if seen is not None:
                return "duplicate", f"already {seen['outcome']}"
            ticket = await self._read(conn, ticket_id, lock=True)
            if ticket.version != based_on:
                outcome = "superseded"
                detail = f"ticket moved from version {based_on} to {ticket.version}"
            else:
                try:
                    await self._append_locked(conn, ticket, build(ticket))
                    outcome, detail = "applied", f"version {ticket.version + 1}"
                except TransitionRefused as refused:
                    outcome, detail = "refused", str(refused)
            await conn.execute(
                "INSERT INTO command_log (command_id, ticket_id, command, outcome, detail) "
                "VALUES ($1, $2, $3, $4, $5)",
                command_id,
                ticket_id,
                command,
                outcome,
                detail,
            )
        return outcome, detail

    async def _read(
        self,
        conn: asyncpg.Connection,
        ticket_id: uuid.UUID,
        accounts: frozenset[str] | None = None,
        *,
        lock: bool = False,
        expected_version: int | None = None,
    ) -> TicketRow:
        """The ticket row (locked for the transaction with `lock`); TicketNotFound outside
        `accounts`, VersionConflict when it is not at `expected_version`."""
        row = await conn.fetchrow(
            "SELECT * FROM tickets WHERE ticket_id = $1 "
            "AND ($2::text[] IS NULL OR account_id = ANY($2::text[]))"
            + (" FOR UPDATE" if lock else ""),
            ticket_id,
            None if accounts is None else list(accounts),
        )
        return checked(row, ticket_id, accounts, expected_version)

    async def _append_locked(
        self, conn: asyncpg.Connection, ticket: TicketRow, envelope: Envelope
    ) -> Envelope:
        """Event, outbox row and read-model update in one statement, the row already locked."""
        status = next_status(ticket.status, envelope.type)
        recorded_at = await conn.fetchval(
            APPEND_IF_UNCHANGED, *row_values(ticket, envelope, status)
        )
        self._single_writes += 1
        if recorded_at is None:  # cannot happen under the lock; never write a gap silently
            raise RuntimeError(f"ticket {ticket.ticket_id} moved under its row lock")
        return envelope.model_copy(update={"recorded_at": recorded_at})

    async def ticket(self, ticket_id: uuid.UUID, accounts: frozenset[str]) -> TicketRow:
        row = await self._pool.fetchrow(
            "SELECT * FROM tickets WHERE ticket_id = $1 AND account_id = ANY($2::text[])",
            ticket_id,
            list(accounts),
        )
        if row is None:
            raise TicketNotFound(str(ticket_id))
        return ticket_from_row(row)

    async def ticket_by_number(self, number: str) -> TicketRow | None:
        row = await self._pool.fetchrow("SELECT * FROM tickets WHERE number = $1", number)
        return ticket_from_row(row) if row else None

    async def history(self, ticket_id: uuid.UUID) -> list[Envelope]:
        rows = await self._pool.fetch(
            "SELECT envelope, recorded_at FROM events WHERE ticket_id = $1 ORDER BY version",
            ticket_id,
        )
        return [envelope_from_row(row) for row in rows]

    async def list_tickets(
        self, accounts: frozenset[str], status: str | None, limit: int, after: str | None
    ) -> list[TicketRow]:
        rows = await self._pool.fetch(
            "SELECT * FROM tickets WHERE account_id = ANY($1::text[]) "
            "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR number > $3) "
            "ORDER BY number LIMIT $4",
            list(accounts),
            status,
            after,
            limit,
        )
        return [ticket_from_row(row) for row in rows]
