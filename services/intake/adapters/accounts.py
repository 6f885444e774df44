"""Accounts, contacts and API keys. API key secrets are stored as SHA-256 digests only; a
key's visible `prefix` (`tf_<id>_` and the first characters of its secret) tells keys apart
in listings. Keys are revoked at once, or rotated: a new key for the same accounts, the old
one revoked after a grace period."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
import orjson

from services.common.api_keys import KEY_PREFIX, ApiKey, ApiKeyVerifier, digest
from services.intake.domain.errors import AccountExists, UnknownAccount
from services.intake.domain.opening import Account

SHOWN_SECRET_CHARS = 4
"""Characters of the secret in a key's visible prefix (24 of its 256 bits)."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    secret: str  # shown once: `tf_<id>_<secret>`
    accounts: tuple[str, ...]
    prefix: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as listed: never its secret or digest."""

    id: str
    prefix: str
    accounts: tuple[str, ...]
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    status: Literal["active", "expiring", "revoked"]  # expiring: revocation scheduled


@dataclass(frozen=True, slots=True)
class RotatedKey:
    issued: IssuedKey
    old_id: str
    old_revoked_at: datetime


class UnknownKey(LookupError):
    pass


class KeyRevoked(Exception):
    """The key is revoked, or its revocation is already scheduled (it was rotated)."""


_KEY_COLUMNS = (
    "id, coalesce(prefix, 'tf_' || id || '_') AS prefix, accounts, label, created_at, "
    "last_used_at, revoked_at, replaced_by, "
    "CASE WHEN revoked_at IS NULL THEN 'active' WHEN revoked_at > now() THEN 'expiring' "
    "ELSE 'revoked' END AS status"
)


def _key_info(row: asyncpg.Record) -> KeyInfo:
    return KeyInfo(
        id=row["id"],
        prefix=row["prefix"],
        accounts=tuple(row["accounts"]),
        label=row["label"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        replaced_by=row["replaced_by"],
        status=row["status"],
    )


class AccountStore:
    """Accounts and keys. Authenticated keys are cached for `key_cache_seconds` (keyed by the
    digest of the presented key), so a revocation made elsewhere takes effect here within that
    time; one made through this store, at once."""

    def __init__(self, pool: asyncpg.Pool, key_cache_seconds: float = 10.0) -> None:
        self._pool = pool
        self._verifier = ApiKeyVerifier(pool, key_cache_seconds)

    @property
    def key_cache_seconds(self) -> float:
        return self._verifier.cache_seconds

    async def create(
        self,
        account_id: str,
        name: str,
        policy_id: str,
        plan: str | None,
        entitled_from: date | None,
        entitled_until: date | None,
        target_overrides: Mapping[str, float],
        escalation: dict[str, Any] | None = None,
    ) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO accounts (id, name, policy_id, plan, entitled_from, entitled_until, "
                "target_overrides, escalation) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)",
                account_id,
                name,
                policy_id,
                plan,
                entitled_from,
                entitled_until,
                orjson.dumps(dict(target_overrides)).decode(),
                orjson.dumps(escalation or {}).decode(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise AccountExists(account_id) from exc

    async def add_contact(
        self, account_id: str, email: str, role: str, name: str | None, level: int | None
    ) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO contacts (account_id, email, role, name, level) "
                "VALUES ($1, lower($2), $3, $4, $5) ON CONFLICT (account_id, email, role) "
                "DO UPDATE SET name = excluded.name, level = excluded.level",
                account_id,
                email,
                role,
                name,
                level,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise UnknownAccount(account_id) from exc

    async def get(self, account_id: str) -> Account:
        row = await self._pool.fetchrow("SELECT * FROM accounts WHERE id = $1", account_id)
        if row is None:
            raise UnknownAccount(account_id)
        emails = await self._pool.fetch(
            "SELECT email FROM contacts WHERE account_id = $1 AND role = 'approved'", account_id
        )
        overrides: dict[str, Any] = orjson.loads(row["target_overrides"])
        return Account(
            id=row["id"],
            name=row["name"],
            policy_id=row["policy_id"],
            plan=row["plan"],
            entitled_from=row["entitled_from"],
            entitled_until=row["entitled_until"],
            approved_contacts=frozenset(r["email"] for r in emails),
            target_overrides={k: float(v) for k, v in overrides.items()},
        )

    async def accounts_approving(self, email: str, among: frozenset[str]) -> list[str]:
        """The accounts (of `among`) that list `email` as an approved contact."""
        rows = await self._pool.fetch(
            "SELECT account_id FROM contacts WHERE email = lower($1) AND role = 'approved' "
            "AND account_id = ANY($2::text[]) ORDER BY account_id",
            email,
            list(among),
        )
        return [row["account_id"] for row in rows]

    async def tam_exhausted(self, account_id: str, month: str) -> bool:
        found = await self._pool.fetchval(
            "SELECT 1 FROM tam_budgets_exhausted WHERE account_id = $1 AND month = $2",
            account_id,
            month,
        )
        return found is not None

    async def record_tam_exhausted(self, account_id: str, month: str, at: datetime) -> bool:
        """Note the month's budget as used up; False when it was noted already."""
        status: str = await self._pool.execute(
            "INSERT INTO tam_budgets_exhausted (account_id, month, exhausted_at) "
            "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            account_id,
            month,
            at,
        )
        return status.endswith(" 1")

    async def issue_key(self, accounts: list[str], label: str | None) -> IssuedKey:
        found = await self._pool.fetchval(
            "SELECT count(*) FROM accounts WHERE id = ANY($1::text[])", accounts
        )
        if found != len(set(accounts)):
            raise UnknownAccount(", ".join(accounts))
        return await self._insert_key(self._pool, accounts, label)

    async def _insert_key(
        self, conn: asyncpg.Pool | asyncpg.Connection, accounts: list[str], label: str | None
    ) -> IssuedKey:
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        prefix = f"{KEY_PREFIX}_{key_id}_{secret[:SHOWN_SECRET_CHARS]}"
        created_at = await conn.fetchval(
            "INSERT INTO api_keys (id, secret_hash, accounts, label, prefix) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING created_at",
            key_id,
            digest(secret),
            accounts,
            label,
            prefix,
        )
        return IssuedKey(
            key_id, f"{KEY_PREFIX}_{key_id}_{secret}", tuple(accounts), prefix, created_at
        )

    async def list_keys(
        self, account: str | None, include_revoked: bool, limit: int
    ) -> list[KeyInfo]:
        """Newest first; only keys that still work unless `include_revoked`."""
        rows = await self._pool.fetch(
            f"SELECT {_KEY_COLUMNS} FROM api_keys "
            "WHERE ($1::text IS NULL OR $1 = ANY(accounts)) "
            "AND ($2 OR revoked_at IS NULL OR revoked_at > now()) "
            "ORDER BY created_at DESC, id LIMIT $3",
            account,
            include_revoked,
            limit,
        )
        return [_key_info(row) for row in rows]

    async def revoke_key(self, key_id: str) -> KeyInfo:
        """Revoked now (a scheduled revocation is brought forward; revoking twice is harmless).
        The key stops working here at once."""
        row = await self._pool.fetchrow(
            "UPDATE api_keys SET revoked_at = least(coalesce(revoked_at, now()), now()) "
            f"WHERE id = $1 RETURNING {_KEY_COLUMNS}",
            key_id,
        )
        self._verifier.forget(key_id)
        if row is None:
            raise UnknownKey(key_id)
        return _key_info(row)

    async def rotate_key(self, key_id: str, grace_seconds: int) -> RotatedKey:
        """A new key for the same accounts and label; the old one revoked `grace_seconds`
        from now (0: at once). A revoked or already rotated key raises KeyRevoked."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT accounts, label, revoked_at FROM api_keys WHERE id = $1 FOR UPDATE",
                key_id,
            )
            if row is None:
                raise UnknownKey(key_id)
            if row["revoked_at"] is not None:
                raise KeyRevoked(key_id)
            issued = await self._insert_key(conn, list(row["accounts"]), row["label"])
            revoked_at = await conn.fetchval(
                "UPDATE api_keys SET revoked_at = now() + make_interval(secs => $2), "
                "replaced_by = $3 WHERE id = $1 RETURNING revoked_at",
                key_id,
                float(grace_seconds),
                issued.id,
            )
        self._verifier.forget(key_id)
        return RotatedKey(issued, key_id, revoked_at)

    async def authenticate(self, presented: str) -> ApiKey | None:
        return await self._verifier.authenticate(presented)
