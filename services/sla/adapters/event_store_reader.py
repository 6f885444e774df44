"""Ticket histories straight from intake's event store, in (ticket, version) order, fast.

The store holds validated envelopes, so replay reads the JSON once with orjson instead of
validating every event again; payloads of an older schema version are upcast.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from shared.events.types import EVENT_TYPES, upcast_data
from shared.sla import TimelineEvent

# Shards are ranges of ticket ids (UUIDs are uniform): each shard reads only its range of
# the primary key, in key order, so shards never scan or sort each other's rows.
# Only the columns the core reads: the event time is `occurred_at` (the envelope's `time`,
# decoded by asyncpg in C) and only the payload is JSON to parse; the pinned policy is read
# once per ticket, from its opening.
QUERY = """
SELECT e.ticket_id, e.type, e.occurred_at, e.version,
       e.envelope->'data' AS data,
       COALESCE((e.envelope->>'schema_version')::int, 1) AS schema_version,
       CASE WHEN e.version = 1 THEN e.envelope->>'policy' END AS policy
FROM events e
WHERE ($1::timestamptz IS NULL
       OR e.ticket_id IN (SELECT ticket_id FROM tickets WHERE opened_at >= $1))
  AND e.ticket_id >= $2::uuid AND ($3::uuid IS NULL OR e.ticket_id < $3::uuid)
ORDER BY e.ticket_id, e.version
"""
UUID_SPACE = 1 << 128


def shard_range(shard: int, shards: int) -> tuple[uuid.UUID, uuid.UUID | None]:
    """[low, high) of ticket ids in shard `shard` of `shards` (high None: to the end)."""
    low = uuid.UUID(int=shard * UUID_SPACE // shards)
    high = None if shard == shards - 1 else uuid.UUID(int=(shard + 1) * UUID_SPACE // shards)
    return low, high


# The schema version each event type is read at; older payloads are upcast first.
CURRENT_SCHEMA = {kind: spec.schema_version for kind, spec in EVENT_TYPES.items()}


async def histories(
    database_url: str,
    since: datetime | None = None,
    shard: int = 0,
    shards: int = 1,
    chunk: int = 20_000,
) -> AsyncIterator[tuple[str, str, list[TimelineEvent]]]:
    """(ticket id, pinned policy, its events in order) for every ticket (opened at or after
    `since`) of
    shard `shard` of `shards` (tickets split into ranges of their id)."""
    low, high = shard_range(shard, shards)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            current: uuid.UUID | None = None
            policy = ""
            events: list[TimelineEvent] = []
            cursor = await conn.cursor(QUERY, since, low, high)
            # Whole chunks per round trip: iterating the cursor row by row costs an await each.
            loads = orjson.loads
            while rows := await cursor.fetch(chunk):
                for ticket, kind, at, sequence, data_text, schema, pinned in rows:
                    if ticket != current:
                        if current is not None:
                            yield str(current), policy, events
                        current, policy, events = ticket, pinned or "", []
                    data: dict[str, Any] = loads(data_text) if data_text else {}
                    if schema < CURRENT_SCHEMA[kind]:
                        data = upcast_data(kind, schema, data)
                    events.append(TimelineEvent(kind, at, data, sequence))
            if current is not None:
                yield str(current), policy, events
    finally:
        await conn.close()
