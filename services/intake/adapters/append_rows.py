"""What one append reads and writes: the ticket row checks and the column values of an event.

Shared by the per-append path of `EventStore` and the batched path of `GroupCommit`, so both
refuse the same things the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import orjson

from services.intake.domain.errors import TicketNotFound, VersionConflict
from services.intake.domain.lifecycle import next_closed_reason, next_resolution
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope
from shared.events.types import TicketEventType


def ticket_from_row(row: asyncpg.Record) -> TicketRow:
    return TicketRow(**{field: row[field] for field in TicketRow.__slots__})


def checked(
    row: asyncpg.Record | None,
    ticket_id: uuid.UUID,
    accounts: frozenset[str] | None,
    expected_version: int | None,
) -> TicketRow:
    """The ticket of `row`; TicketNotFound when missing or outside `accounts` (another
    account's ticket looks absent), VersionConflict when not at `expected_version`."""
    if row is None or (accounts is not None and row["account_id"] not in accounts):
        raise TicketNotFound(str(ticket_id))
    ticket = ticket_from_row(row)
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(ticket_id, expected_version, ticket.version)
    return ticket


def envelope_json(envelope: Envelope) -> str:
    """The stored envelope: `recorded_at` lives in its own column."""
    body = envelope.model_dump(mode="json", exclude_none=True, exclude={"recorded_at"})
    return orjson.dumps(body).decode()


def row_values(ticket: TicketRow, envelope: Envelope, status: str) -> tuple[Any, ...]:
    """(ticket_id, version, event_id, type, occurred_at, envelope JSON, status, priority,
    resolution, closed_reason): the event row and the ticket's read-model columns after it."""
    priority = ticket.priority
    if envelope.type == TicketEventType.SEVERITY_CHANGED:
        priority = envelope.data["priority"]
    resolution = next_resolution(ticket.resolution, envelope.type)
    return (
        ticket.ticket_id,
        envelope.sequence,
        envelope.id,
        envelope.type,
        envelope.time,
        envelope_json(envelope),
        status,
        priority,
        resolution,
        next_closed_reason(ticket.closed_reason, resolution, envelope.type),
    )
