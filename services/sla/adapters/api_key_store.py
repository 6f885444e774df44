"""API keys, verified against the `api_keys` table of the event-store database (intake
issues them; this worker only reads: it does not record `last_used_at`, intake does). The
pool opens on the first lookup, read-only and under the truth reader's application name, so
the event-store horizon ignores it."""

from __future__ import annotations

import asyncio

import asyncpg

from services.common.api_keys import ApiKey, ApiKeyVerifier
from services.sla.adapters.event_store_truth import APPLICATION_NAME


class KeyStoreUnavailable(Exception):
    """The database holding the API keys did not answer."""


class ApiKeyStore:
    def __init__(self, database_url: str, *, cache_seconds: float, pool_size: int = 2) -> None:
        self._database_url = database_url
        self._cache_seconds = cache_seconds
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._verifier: ApiKeyVerifier | None = None
        self._opening = asyncio.Lock()

    async def _connected(self) -> ApiKeyVerifier:
        async with self._opening:
            if self._verifier is None:
                pool = await asyncpg.create_pool(
                    self._database_url,
                    min_size=0,
                    max_size=self._pool_size,
                    command_timeout=5,
                    timeout=5,
                    server_settings={
                        "default_transaction_read_only": "on",
                        "application_name": APPLICATION_NAME,
                    },
                )
                assert pool is not None
                self._pool = pool
                self._verifier = ApiKeyVerifier(pool, self._cache_seconds, record_use=False)
        return self._verifier

    async def authenticate(self, presented: str) -> ApiKey | None:
        """The key, None when unknown or revoked; KeyStoreUnavailable when the database
        cannot say."""
        try:
            verifier = self._verifier or await self._connected()
            return await verifier.authenticate(presented)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise KeyStoreUnavailable(type(exc).__name__) from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
            self._verifier = None
