"""Accounts, contacts and API keys. API key secrets are stored as SHA-256 digests only."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import orjson

from services.common.api_keys import KEY_PREFIX, ApiKey, ApiKeyVerifier, digest
from services.intake.domain.opening import Account


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    secret: str  # shown once: `tf_<id>_<secret>`
    accounts: tuple[str, ...]


class AccountExists(Exception):
    pass


class UnknownAccount(LookupError):
    pass


class AccountStore:
    """Accounts and keys. Authenticated keys are cached for `key_cache_seconds` (keyed by the
    digest of the presented key), so a revocation takes effect within that time."""

    def __init__(self, pool: asyncpg.Pool, key_cache_seconds: float = 30.0) -> None:
        self._pool = pool
        self._verifier = ApiKeyVerifier(pool, key_cache_seconds)

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

    async def issue_key(self, accounts: list[str], label: str | None) -> IssuedKey:
        found = await self._pool.fetchval(
            "SELECT count(*) FROM accounts WHERE id = ANY($1::text[])", accounts
        )
        if found != len(set(accounts)):
            raise UnknownAccount(", ".join(accounts))
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        await self._pool.execute(
            "INSERT INTO api_keys (id, secret_hash, accounts, label) VALUES ($1, $2, $3, $4)",
            key_id,
            digest(secret),
            accounts,
            label,
        )
        return IssuedKey(key_id, f"{KEY_PREFIX}_{key_id}_{secret}", tuple(accounts))

    async def authenticate(self, presented: str) -> ApiKey | None:
        return await self._verifier.authenticate(presented)
