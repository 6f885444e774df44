"""`Idempotency-Key`: a retried POST returns the first response and writes nothing new.

A key is reserved before the handler runs (status 0 = in progress), so two concurrent retries
cannot both write; the response is stored when the handler finishes. A handler that fails with
a server error releases the key so the client may retry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

IN_PROGRESS = 0


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: Any
    request_hash: bytes


def request_hash(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).digest()


class IdempotencyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reserve(self, api_key_id: str, key: str, digest: bytes) -> StoredResponse | None:
        """None if this request now owns the key; else what is stored (maybe in progress)."""
        owned = await self._pool.fetchval(
            "INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, response) "
            "VALUES ($1, $2, $3, $4, 'null'::jsonb) ON CONFLICT (api_key_id, key) DO NOTHING "
            "RETURNING true",
            api_key_id,
            key,
            digest,
            IN_PROGRESS,
        )
        if owned:
            return None
        row = await self._pool.fetchrow(
            "SELECT status, response, request_hash FROM idempotency_keys "
            "WHERE api_key_id = $1 AND key = $2",
            api_key_id,
            key,
        )
        assert row is not None
        return StoredResponse(
            row["status"], orjson.loads(row["response"]), bytes(row["request_hash"])
        )

    async def complete(self, api_key_id: str, key: str, status: int, body: Any) -> None:
        await self._pool.execute(
            "UPDATE idempotency_keys SET status = $3, response = $4::jsonb "
            "WHERE api_key_id = $1 AND key = $2",
            api_key_id,
            key,
            status,
            orjson.dumps(body).decode(),
        )

    async def release(self, api_key_id: str, key: str) -> None:
        await self._pool.execute(
            "DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status = $3",
            api_key_id,
            key,
            IN_PROGRESS,
        )
