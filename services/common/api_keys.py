"""Verifying API keys (`tf_<id>_<secret>`, issued by intake, stored as SHA-256 digests only),
for every service that answers integrators. A verified key is cached for `cache_seconds`
(keyed by the digest of the presented key), so a revocation takes effect within that time."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import asyncpg

KEY_PREFIX = "tf"


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


class ApiKeyVerifier:
    def __init__(self, pool: asyncpg.Pool, cache_seconds: float = 30.0) -> None:
        self._pool = pool
        self._ttl = cache_seconds
        self._keys: dict[bytes, tuple[ApiKey, float]] = {}

    async def authenticate(self, presented: str) -> ApiKey | None:
        parsed = parse_key(presented)
        if parsed is None:
            return None
        cache_key = digest(presented)
        cached = self._keys.get(cache_key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        key = await self._lookup(*parsed)
        if key is not None:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[cache_key] = (key, time.monotonic() + self._ttl)
        return key

    async def _lookup(self, key_id: str, secret: str) -> ApiKey | None:
        row = await self._pool.fetchrow(
            "SELECT secret_hash, accounts FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
            key_id,
        )
        if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), digest(secret)):
            return None
        return ApiKey(key_id, frozenset(row["accounts"]))
