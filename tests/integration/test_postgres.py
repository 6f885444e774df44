"""The real PostgreSQL answers, and holds what we write."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest


async def test_write_and_read_back(pg: asyncpg.Connection) -> None:
    await pg.execute(
        "CREATE TABLE probe_events (ticket_id text, version int, at timestamptz, "
        "PRIMARY KEY (ticket_id, version))"
    )
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    await pg.execute("INSERT INTO probe_events VALUES ('t-1', 1, $1)", at)
    row = await pg.fetchrow("SELECT * FROM probe_events WHERE ticket_id = 't-1'")
    assert row is not None
    assert (row["version"], row["at"]) == (1, at)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute("INSERT INTO probe_events VALUES ('t-1', 1, now())")
    assert await pg.fetchval("SHOW server_version_num") >= "150000"
