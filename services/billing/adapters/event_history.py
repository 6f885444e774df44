"""The billing-relevant ticket events of intake's event store, in the order the store
recorded them: what `ticketflow billing statement` and `billing replay` recompute ledgers
from. Read in pages by (recorded_at, ticket, version), so a large store is streamed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from services.billing.domain.history import TicketEventIn
from shared.events.types import upcast_data
from shared.sla.timeline import TimelineEvent

PAGE = 2000
_QUERY = """
SELECT ticket_id, version, event_id, type, occurred_at, recorded_at, envelope::text AS envelope
FROM events
WHERE type = ANY($1::text[])
  AND ($2::text IS NULL OR envelope->>'account' = $2)
  AND (recorded_at, ticket_id, version) > ($3, $4, $5)
ORDER BY recorded_at, ticket_id, version
LIMIT $6
"""
_START = (datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0), 0)


def _incoming(row: asyncpg.Record) -> TicketEventIn:
    envelope: dict[str, Any] = orjson.loads(row["envelope"])
    data: dict[str, Any] = envelope.get("data") or {}
    data = upcast_data(row["type"], int(envelope.get("schema_version", 1)), data)
    return TicketEventIn(
        event_id=row["event_id"],
        ticket_id=str(row["ticket_id"]),
        account=envelope["account"],
        policy=envelope["policy"],
        event=TimelineEvent(
            row["type"],
            row["occurred_at"],
            data,
            sequence=row["version"],
            recorded_at=row["recorded_at"],
        ),
    )


async def recorded_events(
    pool: asyncpg.Pool, types: Collection[str], account: str | None = None
) -> AsyncIterator[TicketEventIn]:
    """Every stored event of `types` (of `account`'s tickets), oldest record first."""
    after: tuple[Any, ...] = _START
    while True:
        rows = await pool.fetch(_QUERY, sorted(types), account, *after, PAGE)
        for row in rows:
            yield _incoming(row)
        if len(rows) < PAGE:
            return
        last = rows[-1]
        after = (last["recorded_at"], last["ticket_id"], last["version"])
