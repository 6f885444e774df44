"""Apply a service's SQL migrations (each file idempotent) under an advisory lock."""

from __future__ import annotations

from importlib import resources

import asyncpg


async def apply_migrations(pool: asyncpg.Pool, package: str, lock_id: int) -> list[str]:
    """Run every `migrations/*.sql` of `package` in name order; return the names applied.

    The lock keeps two replicas starting together from racing on the same DDL."""
    folder = resources.files(package).joinpath("migrations")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
        try:
            for name in names:
                await conn.execute(folder.joinpath(name).read_text(encoding="utf-8"))
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
    return names
