"""An embedded PostgreSQL holding intake's tables, for benchmarks of the SLA worker (which
checks the event store before every breach)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.devstack.postgres import EmbeddedPostgres
from services.devstack.provisioning import ensure_database
from services.intake.adapters.event_store import migrate


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
