"""Group commit: concurrent appends share their round trips and one durable commit.

An append joins a queue; one drainer per store writes the queue in batches, back to back.
A batch is one read of all its tickets and one statement that writes every event, outbox row
and ticket update (so one WAL flush for all of them). Alone, an append costs what a single
append costs; under load, dozens share the same two round trips.

A batch holds at most one event per ticket (a second one waits for the next batch, so it is
built on the first one's version). Each event is written only if its ticket is still at the
version it was built on; the batch takes its ticket locks in ticket-id order, so batches of
two processes never deadlock. An append whose ticket moved under it (another process wrote
first) comes back as None and its caller retries it alone.

One bad append never fails its batch mates: each event is serialised on its own before it
joins the statement (one that cannot be, e.g. a lone surrogate in its data, fails alone), and
when the shared statement itself fails for another reason than a lost database (a value
PostgreSQL refuses), nothing of it was written and each event is written again alone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.intake.adapters.append_rows import checked, row_values
from services.intake.adapters.outage import database_unavailable
from services.intake.domain.lifecycle import next_status
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope

log = logging.getLogger("ticketflow.intake.group_commit")
MAX_BATCH = 64
READ_TICKETS = "SELECT * FROM tickets WHERE ticket_id = ANY($1::uuid[])"
APPEND_BATCH = """
WITH b AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::timestamptz[],
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
        AS b (ticket_id, version, event_id, type, occurred_at, envelope, status, priority,
              resolution, closed_reason)),
locked AS MATERIALIZED (
    SELECT t.ticket_id FROM tickets t
    JOIN b ON t.ticket_id = b.ticket_id AND t.version = b.version - 1
    ORDER BY t.ticket_id FOR UPDATE OF t),
u AS (
    UPDATE tickets t
    SET version = b.version, status = b.status, priority = b.priority,
        resolution = b.resolution, closed_reason = b.closed_reason, updated_at = clock_timestamp()
    FROM b JOIN locked ON locked.ticket_id = b.ticket_id
    WHERE t.ticket_id = b.ticket_id AND t.version = b.version - 1
    RETURNING t.ticket_id, t.updated_at),
e AS (
    INSERT INTO events (ticket_id, version, event_id, type, occurred_at, envelope, recorded_at)
    SELECT b.ticket_id, b.version, b.event_id, b.type, b.occurred_at, b.envelope::jsonb,
           u.updated_at
    FROM b JOIN u ON u.ticket_id = b.ticket_id
    RETURNING ticket_id, version, event_id, recorded_at),
o AS (INSERT INTO outbox (ticket_id, version, event_id) SELECT ticket_id, version, event_id FROM e)
SELECT ticket_id, recorded_at FROM e
"""

Appended = tuple[Envelope, str]


@dataclass(slots=True)
class _Pending:
    ticket_id: uuid.UUID
    build: Callable[[TicketRow], Envelope]
    expected_version: int | None
    accounts: frozenset[str] | None
    done: asyncio.Future[Appended | None]


@dataclass(slots=True)
class _Built:
    pending: _Pending
    envelope: Envelope
    status: str
    values: tuple[object, ...]


class GroupCommit:
    def __init__(
        self, pool: asyncpg.Pool, on_commit: Callable[[], None], max_batch: int = MAX_BATCH
    ) -> None:
        self._pool = pool
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self.statements = 0  # batch writes so far (events per statement = appended / this)
        self.appended = 0

    async def append(
        self,
        ticket_id: uuid.UUID,
        build: Callable[[TicketRow], Envelope],
        expected_version: int | None,
        accounts: frozenset[str] | None,
    ) -> Appended | None:
        """(recorded envelope, status after it), or None when another process's writer moved
        the ticket first. Raises what the checks and `build` raise (TicketNotFound,
        VersionConflict, TransitionRefused, ...) and database errors."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Appended | None] = loop.create_future()
        self._queue.append(_Pending(ticket_id, build, expected_version, accounts, done))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        """Write batches while appends wait; end when the queue is empty (nothing lingers
        between bursts, so a store outlives any one event loop)."""
        batch: list[_Pending] = []
        try:
            while self._queue:
                batch = self._take()
                try:
                    await self._write(batch)
                except Exception as error:  # the database failed the batch: each append fails
                    for pending in batch:
                        if not pending.done.done():
                            pending.done.set_exception(error)
        finally:
            self._drainer = None
            for pending in (*batch, *self._queue):  # cancelled with appends still waiting
                if not pending.done.done():
                    pending.done.cancel()
            self._queue.clear()

    def _take(self) -> list[_Pending]:
        """Up to `max_batch` waiting appends, one per ticket, in arrival order; the others
        keep their places."""
        batch: list[_Pending] = []
        tickets: set[uuid.UUID] = set()
        later: deque[_Pending] = deque()
        while self._queue and len(batch) < self._max_batch:
            pending = self._queue.popleft()
            if pending.done.done():  # its request was cancelled
                continue
            if pending.ticket_id in tickets:
                later.append(pending)
            else:
                tickets.add(pending.ticket_id)
                batch.append(pending)
        later.extend(self._queue)
        self._queue = later
        return batch

    async def _write(self, batch: list[_Pending]) -> None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(READ_TICKETS, [pending.ticket_id for pending in batch])
            by_id = {row["ticket_id"]: row for row in rows}
            built = [b for pending in batch if (b := self._build(pending, by_id)) is not None]
            if not built:
                return
            try:
                written = await self._statement(conn, built)
            except Exception as error:
                if len(built) == 1 or database_unavailable(error):
                    raise
                log.warning(
                    "a shared append statement of %d events failed (%s: %s); writing each "
                    "alone so that only the event at fault fails",
                    len(built),
                    type(error).__name__,
                    error,
                )
                await self._write_each(conn, built)
                return
        self._settle(built, written)

    async def _write_each(self, conn: asyncpg.Connection, built: list[_Built]) -> None:
        """After a failed shared statement (nothing of it was written): one statement per
        event, each failing with its own error only."""
        for b in built:
            try:
                written = await self._statement(conn, [b])
            except Exception as error:
                if database_unavailable(error):
                    raise
                if not b.pending.done.done():
                    b.pending.done.set_exception(error)
                continue
            self._settle([b], written)

    @staticmethod
    async def _statement(conn: asyncpg.Connection, built: list[_Built]) -> dict[uuid.UUID, Any]:
        columns = [list(column) for column in zip(*(b.values for b in built), strict=True)]
        return dict(await conn.fetch(APPEND_BATCH, *columns))

    def _settle(self, built: list[_Built], written: dict[uuid.UUID, Any]) -> None:
        self.statements += 1
        self.appended += len(written)
        if written:
            self._on_commit()
        for b in built:
            recorded_at = written.get(b.pending.ticket_id)
            if b.pending.done.done():
                continue
            if recorded_at is None:
                b.pending.done.set_result(None)
            else:
                recorded = b.envelope.model_copy(update={"recorded_at": recorded_at})
                b.pending.done.set_result((recorded, b.status))

    @staticmethod
    def _build(pending: _Pending, rows: dict[uuid.UUID, asyncpg.Record]) -> _Built | None:
        """The event of one append, or None after handing its refusal to its caller."""
        try:
            ticket = checked(
                rows.get(pending.ticket_id),
                pending.ticket_id,
                pending.accounts,
                pending.expected_version,
            )
            envelope = pending.build(ticket)
            status = next_status(ticket.status, envelope.type)
            values = row_values(ticket, envelope, status)  # serialised here, alone
        except Exception as refused:  # the caller's own outcome: not found, conflict, refusal,
            if not pending.done.done():  # an event that cannot be serialised
                pending.done.set_exception(refused)
            return None
        return _Built(pending, envelope, status, values)
