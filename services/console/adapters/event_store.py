"""Every ticket's history from intake's event store, ticket after ticket: what the offline
compliance report (`ticketflow report compliance`) replays through the SLA core.

The events table is read in pages by its key (ticket, version), inside one read-only
repeatable-read transaction, so a large store is streamed and every page sees the same
snapshot. Payloads of an older schema version are upcast; the pinned policy comes from the
ticket's opening.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from shared.events.types import EVENT_TYPES, upcast_data
from shared.sla import TimelineEvent

PAGE = 2000
_QUERY = """
SELECT ticket_id, version, type, occurred_at, recorded_at,
       envelope->'data' AS data,
       COALESCE((envelope->>'schema_version')::int, 1) AS schema_version,
       envelope->>'policy' AS policy
FROM events
WHERE (ticket_id, version) > ($1, $2)
ORDER BY ticket_id, version
LIMIT $3
"""
_START = (uuid.UUID(int=0), 0)
CURRENT_SCHEMA = {kind: spec.schema_version for kind, spec in EVENT_TYPES.items()}


@dataclass(slots=True)
class TicketHistory:
    ticket_id: str
    policy: str
    """The reference the ticket pinned when it opened (`voximplant@1`)."""
    events: list[TimelineEvent] = field(default_factory=list)


def _event(row: asyncpg.Record) -> TimelineEvent:
    kind = row["type"]
    data: dict[str, Any] = orjson.loads(row["data"]) if row["data"] else {}
    if row["schema_version"] < CURRENT_SCHEMA.get(kind, row["schema_version"]):
        data = upcast_data(kind, row["schema_version"], data)
    return TimelineEvent(
        kind, row["occurred_at"], data, sequence=row["version"], recorded_at=row["recorded_at"]
    )


async def ticket_histories(pool: asyncpg.Pool, page: int = PAGE) -> AsyncIterator[TicketHistory]:
    """Every ticket's events in version order, one ticket at a time, in ticket id order."""
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        after: tuple[uuid.UUID, int] = _START
        current: TicketHistory | None = None
        while True:
            rows = await conn.fetch(_QUERY, *after, page)
            for row in rows:
                ticket = str(row["ticket_id"])
                if current is None or current.ticket_id != ticket:
                    if current is not None:
                        yield current
                    current = TicketHistory(ticket, row["policy"] or "")
                current.events.append(_event(row))
            if len(rows) < page:
                break
            last = rows[-1]
            after = (last["ticket_id"], last["version"])
        if current is not None:
            yield current
