"""An embedded PostgreSQL holding intake's tables, for benchmarks of the SLA worker (which
checks the event store before every breach)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from services.devstack.postgres import EmbeddedPostgres
from services.devstack.provisioning import ensure_database
from services.intake.adapters.append_rows import envelope_json
from services.intake.adapters.event_store import migrate
from shared.events import Envelope


async def start_event_store(workdir: Path) -> tuple[EmbeddedPostgres, str]:
    """(the server, the URL of a migrated `ticketflow` database); stop the server after."""
    server = EmbeddedPostgres(workdir / "postgres")
    url = await ensure_database(server.start(), "ticketflow")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        await migrate(pool)
    finally:
        await pool.close()
    return server, url


Row = tuple[uuid.UUID, int, uuid.UUID, str, datetime, str, datetime]
COLUMNS = ["ticket_id", "version", "event_id", "type", "occurred_at", "envelope", "recorded_at"]


def envelope_row(envelope: Envelope) -> Row:
    """The `events` row intake would have written for an envelope."""
    return (
        uuid.UUID(envelope.subject),
        envelope.sequence,
        envelope.id,
        envelope.type,
        envelope.time,
        envelope_json(envelope),
        envelope.recorded_at or datetime.now(UTC),
    )


async def store_rows(database_url: str, rows: list[Row]) -> None:
    """Commit events as intake does before its relay publishes them (COPY, one transaction)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
    finally:
        await conn.close()
