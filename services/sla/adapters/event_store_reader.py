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
QUERY = """
SELECT e.ticket_id, e.envelope::text AS envelope
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


def _timeline(body: dict[str, Any]) -> TimelineEvent:
    kind = body["type"]
    data = body.get("data") or {}
    version = int(body.get("schema_version", 1))
    if version < EVENT_TYPES[kind].schema_version:
        data = upcast_data(kind, version, data)
    return TimelineEvent(kind, datetime.fromisoformat(body["time"]), data, int(body["sequence"]))


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
            current: str | None = None
            policy = ""
            events: list[TimelineEvent] = []
            async for row in conn.cursor(QUERY, since, low, high, prefetch=chunk):
                ticket = str(row["ticket_id"])
                body = orjson.loads(row["envelope"])
                if ticket != current:
                    if current is not None:
                        yield current, policy, events
                    current, policy, events = ticket, body["policy"], []
                events.append(_timeline(body))
            if current is not None:
                yield current, policy, events
    finally:
        await conn.close()
