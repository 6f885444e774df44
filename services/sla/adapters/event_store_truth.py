"""What the SLA worker asks intake's event store, the source of truth (read-only access).

- `horizon()`: an instant H such that every ticket event recorded before H is already
  committed and visible. It is the earlier of the database clock and the start of every
  transaction still open in the database that may commit an event (an event's `recorded_at`
  is `clock_timestamp()` inside its transaction, so it is never earlier than its
  transaction's start; see HORIZON for which sessions count). The open transactions are read
  first and the tickets afterwards, in a later statement, so a transaction that commits in
  between is visible to the second read; one that starts after the first read records its
  events after H. A long read-only transaction (a replay) holds nothing back beyond its
  current statement. Seeing other sessions' `xact_start` needs the same role as intake's
  writers or `pg_read_all_stats` (`pg_monitor`); a session hidden from this role makes the
  horizon unknown (None), which holds breaches back rather than faking them.
- `versions(tickets)`: each ticket's latest version and the store time of that version.
- `histories(after)`: tickets' events after a version each, as the worker reads them, in one
  query (gap repairs, lagging tickets at a timer, reconciliation).
- `all_versions()`: every ticket's latest version, for the reconciliation on assignment.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.sla.domain.tracked import Incoming
from shared.events.types import EVENT_TYPES, upcast_data

log = logging.getLogger("ticketflow.sla")

# What may still commit an event recorded before now: a transaction that has written (an xid)
# may commit events stamped from its start on; a statement running without an xid yet may be
# about to write one stamped from the statement's start on (clock_timestamp() is read before
# PostgreSQL assigns the xid). Anything else records later than `statement_timestamp()`,
# which is read before the scan. A session hidden from this role (no pg_read_all_stats) could
# be a writer: the horizon is then unknown. On a standby the primary's writers are not seen
# at all: unknown too. This worker's own sessions (application_name) only read.
HORIZON = """
SELECT statement_timestamp() AS now,
       pg_is_in_recovery() AS replica,
       min(CASE WHEN backend_xid IS NOT NULL THEN xact_start
                WHEN state = 'active' THEN query_start END) AS oldest,
       coalesce(bool_or(state IS NULL), false) AS hidden
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND (backend_type IS NULL OR backend_type = 'client backend')
  AND application_name IS DISTINCT FROM $1
"""
APPLICATION_NAME = "ticketflow-sla-truth"
VERSIONS = """
SELECT ticket_id, max(version) AS version, max(recorded_at) AS recorded_at
FROM events WHERE ticket_id = ANY($1::uuid[]) GROUP BY ticket_id
"""
ALL_VERSIONS = "SELECT ticket_id, max(version) AS version FROM events GROUP BY ticket_id"
HISTORIES = """
SELECT e.ticket_id, e.event_id, e.type, e.occurred_at, e.version, e.recorded_at, e.envelope
FROM unnest($1::uuid[], $2::int[]) AS w(ticket_id, after)
JOIN events e ON e.ticket_id = w.ticket_id AND e.version > w.after
ORDER BY e.ticket_id, e.version
"""
CURRENT_SCHEMA = {kind: spec.schema_version for kind, spec in EVENT_TYPES.items()}


@dataclass(frozen=True, slots=True)
class StoredVersion:
    version: int
    recorded_at: float
    """Epoch seconds: when the store committed that version."""


class EventStoreTruth:
    """The event store over an asyncpg pool opened on first use (nothing connects at import)."""

    def __init__(self, database_url: str, *, pool_size: int = 4) -> None:
        self._database_url = database_url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def _connected(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await asyncpg.create_pool(
                self._database_url,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=10,
                server_settings={
                    "default_transaction_read_only": "on",
                    "application_name": APPLICATION_NAME,
                },
            )
            assert pool is not None
            self._pool = pool
        return self._pool

    async def horizon(self) -> float | None:
        pool = await self._connected()
        async with pool.acquire() as conn:
            row = await conn.fetchrow(HORIZON, APPLICATION_NAME)
        assert row is not None
        if row["hidden"] or row["replica"]:
            return None
        now: float = row["now"].timestamp()
        oldest = row["oldest"]
        return now if oldest is None else min(now, float(oldest.timestamp()))

    async def versions(self, tickets: Iterable[str]) -> dict[str, StoredVersion]:
        ids = [uuid.UUID(ticket) for ticket in tickets]
        if not ids:
            return {}
        pool = await self._connected()
        rows = await pool.fetch(VERSIONS, ids)
        return {
            str(row["ticket_id"]): StoredVersion(row["version"], row["recorded_at"].timestamp())
            for row in rows
        }

    async def all_versions(self) -> dict[str, int]:
        pool = await self._connected()
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            rows = await conn.fetch(ALL_VERSIONS)
        return {str(row["ticket_id"]): row["version"] for row in rows}

    async def histories(self, after: Mapping[str, int]) -> dict[str, list[Incoming]]:
        """`history` of many tickets in one query: ticket -> its events after the version."""
        if not after:
            return {}
        pool = await self._connected()
        tickets = list(after)
        rows = await pool.fetch(
            HISTORIES, [uuid.UUID(ticket) for ticket in tickets], [after[t] for t in tickets]
        )
        found: dict[str, list[Incoming]] = {ticket: [] for ticket in tickets}
        unreadable: set[str] = set()
        for row in rows:
            ticket = str(row["ticket_id"])
            if ticket in unreadable:
                continue
            try:
                found[ticket].append(_incoming(row))
            except (KeyError, TypeError, ValueError) as exc:
                # A stored row this version cannot read: that ticket is left as it is (its
                # timers wait, then fire provisionally), the others are repaired.
                log.error("ticket %s: stored event %s unreadable: %r", ticket, row["version"], exc)
                unreadable.add(ticket)
                found[ticket] = []
        return found

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _incoming(row: Any) -> Incoming:
    envelope: dict[str, Any] = orjson.loads(row["envelope"])
    kind = row["type"]
    data: dict[str, Any] = envelope.get("data") or {}
    schema = int(envelope.get("schema_version", 1))
    if schema < CURRENT_SCHEMA.get(kind, schema):
        data = upcast_data(kind, schema, data)
    return Incoming(
        event_id=str(row["event_id"]),
        type=kind,
        at=row["occurred_at"],
        sequence=row["version"],
        account=envelope["account"],
        policy=envelope["policy"],
        data=data,
        recorded_at=row["recorded_at"],
    )
