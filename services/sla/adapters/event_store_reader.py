"""Ticket histories straight from intake's event store, in (ticket, version) order, fast.

The store holds validated envelopes, so replay reads the JSON once with orjson instead of
validating every event again; payloads of an older schema version are upcast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.sla.domain.tracked import Incoming
from shared.events.types import EVENT_TYPES, upcast_data

QUERY = """
SELECT e.ticket_id, e.recorded_at, e.envelope::text AS envelope
FROM events e
WHERE ($1::timestamptz IS NULL
       OR e.ticket_id IN (SELECT ticket_id FROM tickets WHERE opened_at >= $1))
  AND ($2::int = 1 OR abs(hashtext(e.ticket_id::text)) % $2::int = $3::int)
ORDER BY e.ticket_id, e.version
"""


def _incoming(body: dict[str, Any], recorded_at: datetime) -> Incoming:
    kind = body["type"]
    data = body.get("data") or {}
    version = int(body.get("schema_version", 1))
    if version < EVENT_TYPES[kind].schema_version:
        data = upcast_data(kind, version, data)
    return Incoming(
        event_id=body["id"],
        type=kind,
        at=datetime.fromisoformat(body["time"]),
        sequence=int(body["sequence"]),
        account=body["account"],
        policy=body["policy"],
        data=data,
        recorded_at=recorded_at,
    )


async def histories(
    database_url: str,
    since: datetime | None = None,
    shard: int = 0,
    shards: int = 1,
    chunk: int = 20_000,
) -> AsyncIterator[tuple[str, list[Incoming]]]:
    """(ticket id, its events in order) for every ticket (opened at or after `since`) of
    shard `shard` of `shards` (tickets split by a hash of their id)."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            current: str | None = None
            events: list[Incoming] = []
            async for row in conn.cursor(QUERY, since, shards, shard, prefetch=chunk):
                ticket = str(row["ticket_id"])
                if ticket != current:
                    if current is not None:
                        yield current, events
                    current, events = ticket, []
                events.append(_incoming(orjson.loads(row["envelope"]), row["recorded_at"]))
            if current is not None:
                yield current, events
    finally:
        await conn.close()
