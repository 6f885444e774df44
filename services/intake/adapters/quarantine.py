"""The outbox quarantine: records the broker refused for good, out of the relay's way.

The relay adds entries (`add`, inside its own connection); operators list, retry and drop
them (`ticketflow intake quarantine ...`). An open entry holds back every later event of
its ticket, so a consumer never sees a ticket's history continue past a silent hole."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.intake.adapters.event_store import NOTIFY_CHANNEL

OPEN_FOR_TICKET = (
    "SELECT 1 FROM outbox_quarantine q WHERE q.ticket_id = o.ticket_id AND q.resolved_at IS NULL"
)


class NotQuarantined(LookupError):
    """No open quarantine entry with that id."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    id: int
    outbox_id: int
    ticket_id: uuid.UUID
    version: int
    event_id: uuid.UUID
    error_type: str
    error: str
    record_bytes: int | None
    quarantined_at: datetime
    held_events: int
    resolution: str | None
    resolved_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outbox_id": self.outbox_id,
            "ticket_id": str(self.ticket_id),
            "version": self.version,
            "event_id": str(self.event_id),
            "error_type": self.error_type,
            "error": self.error,
            "record_bytes": self.record_bytes,
            "quarantined_at": self.quarantined_at.isoformat(),
            "held_events": self.held_events,
            "resolution": self.resolution,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


async def add(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    error_type: str,
    error: str,
    record_bytes: int | None,
) -> bool:
    """Quarantine the outbox row `row` (id, ticket_id, version, event_id); False when it
    already has an open entry."""
    added = await conn.fetchval(
        "INSERT INTO outbox_quarantine (outbox_id, ticket_id, version, event_id, error_type, "
        "error, record_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (outbox_id) WHERE resolved_at IS NULL DO NOTHING RETURNING id",
        row["id"],
        row["ticket_id"],
        row["version"],
        row["event_id"],
        error_type,
        error[:2000],
        record_bytes,
    )
    return added is not None


class QuarantineStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def entries(self, *, include_resolved: bool = False) -> list[Quarantined]:
        """Open entries (all of them with `include_resolved`), oldest first, each with how
        many later events of its ticket it holds back."""
        rows = await self._pool.fetch(
            "SELECT q.*, CASE WHEN q.resolved_at IS NULL THEN (SELECT count(*) FROM outbox o "
            "WHERE o.ticket_id = q.ticket_id AND o.version > q.version "
            "AND o.published_at IS NULL) ELSE 0 END AS held_events "
            "FROM outbox_quarantine q WHERE $1 OR q.resolved_at IS NULL ORDER BY q.id",
            include_resolved,
        )
        return [Quarantined(**{name: row[name] for name in Quarantined.__slots__}) for row in rows]

    async def open_count(self) -> int:
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM outbox_quarantine WHERE resolved_at IS NULL"
        )
        return count

    async def retry(self, entry_id: int) -> Quarantined:
        """Release the entry: the relay sends its record again, then the ticket's later ones
        (a record refused again comes back as a new entry)."""
        return await self._resolve(entry_id, "retried")

    async def drop(self, entry_id: int) -> Quarantined:
        """Give up on the record: it stays in the event store but never reaches the topic;
        the ticket's later events flow again (consumers see the gap in `ce_sequence` and
        read the missing event from the store)."""
        return await self._resolve(entry_id, "dropped")

    async def _resolve(self, entry_id: int, resolution: str) -> Quarantined:
        async with self._pool.acquire() as conn, conn.transaction():
            outbox_id = await conn.fetchval(
                "UPDATE outbox_quarantine SET resolution = $2, resolved_at = clock_timestamp() "
                "WHERE id = $1 AND resolved_at IS NULL RETURNING outbox_id",
                entry_id,
                resolution,
            )
            if outbox_id is None:
                raise NotQuarantined(entry_id)
            if resolution == "dropped":
                await conn.execute(
                    "UPDATE outbox SET published_at = clock_timestamp() WHERE id = $1", outbox_id
                )
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        entries = await self.entries(include_resolved=True)
        return next(entry for entry in entries if entry.id == entry_id)
