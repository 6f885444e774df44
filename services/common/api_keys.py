"""Verifying API keys (`tf_<id>_<secret>`, issued by intake, stored as SHA-256 digests only),
for every service that answers integrators.

A verified key is cached for `cache_seconds` (keyed by the digest of the presented key), so a
revocation takes effect within that time on every verifier; `forget(key_id)` drops a key at
once (the replica that revoked it). A key whose revocation is scheduled (a rotated key's grace
period: `revoked_at` in the future) is cached no longer than it has left.

Each verifier records when a key was last used (`api_keys.last_used_at`), at most once every
`record_every` seconds per key, in the request that finds it due; a database that refuses the
write (a read-only connection, a schema without the column) turns the recording off, and a
write that fails for any other reason is logged and the request goes on."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

KEY_PREFIX = "tf"
MAX_CACHED = 10_000

log = logging.getLogger("ticketflow.api_keys")


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    accounts: frozenset[str]


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_key(presented: str) -> tuple[str, str] | None:
    parts = presented.strip().split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def bearer(authorization: str | None, api_key: str | None = None) -> str | None:
    """The credential from `X-Api-Key` or `Authorization: Bearer ...`."""
    if api_key:
        return api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


_RECORDING_REFUSED = (
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.UndefinedColumnError,
    asyncpg.InsufficientPrivilegeError,
)


class ApiKeyVerifier:
    def __init__(
        self,
        pool: asyncpg.Pool,
        cache_seconds: float = 10.0,
        *,
        now: Callable[[], float] = time.monotonic,
        record_use: bool = True,
        record_every: float = 60.0,
    ) -> None:
        self._pool = pool
        self._ttl = cache_seconds
        self._now = now
        self._record_use = record_use
        self._record_every = record_every
        self._keys: dict[bytes, tuple[ApiKey, float]] = {}
        self._recorded: dict[str, float] = {}

    @property
    def cache_seconds(self) -> float:
        """How late a revocation may reach this verifier."""
        return self._ttl

    async def authenticate(self, presented: str) -> ApiKey | None:
        parsed = parse_key(presented)
        if parsed is None:
            return None
        cache_key = digest(presented)
        now = self._now()
        cached = self._keys.get(cache_key)
        if cached is not None and cached[1] > now:
            key = cached[0]
        else:
            found = await self._lookup(*parsed)
            if found is None:
                self._keys.pop(cache_key, None)
                return None
            key, valid_for = found
            if len(self._keys) > MAX_CACHED:
                self._keys.clear()
            self._keys[cache_key] = (key, now + min(self._ttl, valid_for))
        await self._record(key.id, now)
        return key

    def forget(self, key_id: str) -> None:
        """Look `key_id` up again on its next use (it was revoked or rotated here)."""
        for cache_key in [k for k, (key, _) in self._keys.items() if key.id == key_id]:
            del self._keys[cache_key]

    async def _lookup(self, key_id: str, secret: str) -> tuple[ApiKey, float] | None:
        """The key and the seconds it has left (infinite unless its revocation is due)."""
        row = await self._pool.fetchrow(
            "SELECT secret_hash, accounts, "
            "extract(epoch FROM revoked_at - now())::float8 AS valid_for "
            "FROM api_keys WHERE id = $1 AND (revoked_at IS NULL OR revoked_at > now())",
            key_id,
        )
        if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), digest(secret)):
            return None
        valid_for = float("inf") if row["valid_for"] is None else row["valid_for"]
        return ApiKey(key_id, frozenset(row["accounts"])), valid_for

    async def _record(self, key_id: str, now: float) -> None:
        if not self._record_use:
            return
        last = self._recorded.get(key_id)
        if last is not None and now - last < self._record_every:
            return
        if len(self._recorded) > MAX_CACHED:
            self._recorded.clear()
        self._recorded[key_id] = now
        try:
            await self._pool.execute(
                "UPDATE api_keys SET last_used_at = now() WHERE id = $1 "
                "AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))",
                key_id,
                self._record_every / 2,
            )
        except _RECORDING_REFUSED as refused:
            self._record_use = False
            log.info("not recording API key use here: %s", type(refused).__name__)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            log.warning("could not record the use of API key %s: %s", key_id, type(error).__name__)
