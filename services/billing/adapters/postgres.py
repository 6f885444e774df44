"""The billing ports on PostgreSQL (asyncpg): a unit of work is one transaction on one pooled
connection; its outgoing events go to the service outbox in that transaction."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from services.billing.domain.accounts import LedgerCharge, Prepaid, TamUsage
from services.billing.domain.charges import Charge
from services.billing.domain.ledger import PREPAID_LOW_MINUTES
from services.billing.domain.rules import AccountTerms, Basis, Money
from services.common import outbox
from services.common.tracking import first_time
from shared.events.billing import BillingEvent
from shared.sla.timeline import TimelineEvent
from shared.topics import BILLING

SERVICE = "billing"
_CHARGE_COLUMNS = (
    "charge_id, ticket_id, account, policy, month, rule, key, basis, amount, currency, source, "
    "worked_minutes, billed_minutes, prepaid_minutes, rate, assessed_at, voided_at"
)


def _charge(row: asyncpg.Record) -> LedgerCharge:
    return LedgerCharge(
        charge_id=row["charge_id"],
        ticket_id=row["ticket_id"],
        account=row["account"],
        policy=row["policy"],
        month=row["month"],
        assessed_at=row["assessed_at"],
        voided_at=row["voided_at"],
        charge=Charge(
            rule=row["rule"],
            key=row["key"],
            basis=Basis(row["basis"]),
            amount=row["amount"],
            currency=row["currency"],
            source=row["source"],
            worked_minutes=row["worked_minutes"],
            billed_minutes=row["billed_minutes"],
            prepaid_minutes=row["prepaid_minutes"],
            rate=row["rate"],
        ),
    )


_BALANCE = (
    "(SELECT sum(minutes) FROM billing_prepaid p WHERE p.account = $1) - coalesce(("
    "SELECT sum(prepaid_minutes) FROM billing_charges c WHERE c.account = $1 "
    "AND c.voided_at IS NULL), 0)"
)
"""An account's prepaid balance: its top-ups less what its charges in force draw (NULL: it
never had prepaid time)."""


def _terms(rates_json: str | None, balance: int | None) -> AccountTerms:
    rates: dict[str, Any] = orjson.loads(rates_json) if rates_json else {}
    return AccountTerms(
        {name: Money(Decimal(str(r["amount"])), r["currency"]) for name, r in rates.items()},
        balance,
    )


def _rates_json(terms: AccountTerms) -> str:
    return orjson.dumps(
        {name: {"amount": str(m.amount), "currency": m.currency} for name, m in terms.rates.items()}
    ).decode()


class PostgresLedgerWork:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def first_time(self, event_id: uuid.UUID) -> bool:
        return await first_time(self._conn, SERVICE, event_id)

    async def append(self, ticket_id: str, event: TimelineEvent) -> None:
        await self._conn.execute(
            "INSERT INTO billing_events (ticket_id, sequence, type, at, data) "
            "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
            ticket_id,
            event.sequence,
            event.type,
            event.at,
            orjson.dumps(event.data).decode(),
        )

    async def history(self, ticket_id: str) -> list[TimelineEvent]:
        rows = await self._conn.fetch(
            "SELECT sequence, type, at, data FROM billing_events WHERE ticket_id = $1 "
            "ORDER BY sequence",
            ticket_id,
        )
        return [
            TimelineEvent(r["type"], r["at"], orjson.loads(r["data"]), sequence=r["sequence"])
            for r in rows
        ]

    async def charges_of(self, ticket_id: str) -> list[LedgerCharge]:
        rows = await self._conn.fetch(
            f"SELECT {_CHARGE_COLUMNS} FROM billing_charges "
            "WHERE ticket_id = $1 AND voided_at IS NULL ORDER BY assessed_at, key",
            ticket_id,
        )
        return [_charge(row) for row in rows]

    async def save(self, assessed: Sequence[LedgerCharge], voided: Sequence[LedgerCharge]) -> None:
        for entry in voided:
            await self._conn.execute(
                "UPDATE billing_charges SET voided_at = $2 WHERE charge_id = $1",
                entry.charge_id,
                entry.voided_at,
            )
        if assessed:
            await self._conn.executemany(
                f"INSERT INTO billing_charges ({_CHARGE_COLUMNS}) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                [_row(entry) for entry in assessed],
            )

    async def terms(self, account: str) -> AccountTerms:
        """Locks the account's row (created if missing), so two tickets of one account move
        its prepaid balance one after the other."""
        query = (
            f"SELECT rates::text AS rates, {_BALANCE} AS balance FROM billing_accounts "
            "WHERE account = $1 FOR UPDATE"
        )
        row = await self._conn.fetchrow(query, account)
        if row is None:
            await self._conn.execute(
                "INSERT INTO billing_accounts (account) VALUES ($1) ON CONFLICT DO NOTHING",
                account,
            )
            row = await self._conn.fetchrow(query, account)
        assert row is not None
        balance = row["balance"]
        return _terms(row["rates"], None if balance is None else int(balance))

    async def prepaid_low_at(self, account: str) -> int:
        found = await self._conn.fetchval(
            "SELECT prepaid_low_minutes FROM billing_accounts WHERE account = $1", account
        )
        return int(found) if found is not None else PREPAID_LOW_MINUTES

    async def add_tam(self, account: str, month: str, minutes: int, budget_hours: int) -> int:
        total: int = await self._conn.fetchval(
            "INSERT INTO billing_tam (account, month, used_minutes, budget_hours) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (account, month) DO UPDATE SET "
            "used_minutes = billing_tam.used_minutes + excluded.used_minutes, "
            "budget_hours = excluded.budget_hours RETURNING used_minutes",
            account,
            month,
            minutes,
            budget_hours,
        )
        return total

    async def publish(self, event: BillingEvent) -> None:
        await outbox.append(
            self._conn,
            SERVICE,
            BILLING.name,
            event.ticket_id,
            event.model_dump(mode="json"),
            event.type,
        )


def _row(entry: LedgerCharge) -> tuple[Any, ...]:
    charge = entry.charge
    return (
        entry.charge_id,
        entry.ticket_id,
        entry.account,
        entry.policy,
        entry.month,
        charge.rule,
        charge.key,
        charge.basis.value,
        charge.amount,
        charge.currency,
        charge.source,
        charge.worked_minutes,
        charge.billed_minutes,
        charge.prepaid_minutes,
        charge.rate,
        entry.assessed_at,
        entry.voided_at,
    )


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresLedgerWork]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresLedgerWork(conn)

    async def charges(self, account: str, month: str | None) -> list[LedgerCharge]:
        rows = await self._pool.fetch(
            f"SELECT {_CHARGE_COLUMNS} FROM billing_charges WHERE account = $1 "
            "AND ($2::text IS NULL OR month = $2) ORDER BY assessed_at, ticket_id, key",
            account,
            month,
        )
        return [_charge(row) for row in rows]

    async def prepaid(self, account: str) -> Prepaid | None:
        row = await self._pool.fetchrow(
            f"SELECT {_BALANCE} AS balance, (SELECT prepaid_low_minutes FROM billing_accounts "
            "WHERE account = $1) AS low_at",
            account,
        )
        if row is None or row["balance"] is None:
            return None
        low_at = row["low_at"] if row["low_at"] is not None else PREPAID_LOW_MINUTES
        return Prepaid(int(row["balance"]), low_at)

    async def tam(self, account: str, month: str) -> TamUsage | None:
        row = await self._pool.fetchrow(
            "SELECT used_minutes, budget_hours FROM billing_tam WHERE account = $1 AND month = $2",
            account,
            month,
        )
        return None if row is None else TamUsage(month, row["used_minutes"], row["budget_hours"])

    async def set_terms(self, account: str, rates: AccountTerms, low_at_minutes: int) -> None:
        await self._pool.execute(
            "INSERT INTO billing_accounts (account, rates, prepaid_low_minutes) "
            "VALUES ($1, $2::jsonb, $3) ON CONFLICT (account) DO UPDATE SET "
            "rates = excluded.rates, prepaid_low_minutes = excluded.prepaid_low_minutes, "
            "updated_at = clock_timestamp()",
            account,
            _rates_json(rates),
            low_at_minutes,
        )

    async def top_up(self, account: str, minutes: int) -> Prepaid:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO billing_accounts (account) VALUES ($1) ON CONFLICT DO NOTHING",
                account,
            )
            await conn.execute(
                "SELECT 1 FROM billing_accounts WHERE account = $1 FOR UPDATE", account
            )
            await conn.execute(
                "INSERT INTO billing_prepaid (account, minutes) VALUES ($1, $2)", account, minutes
            )
        found = await self.prepaid(account)
        assert found is not None
        return found

    async def top_ups(self) -> list[tuple[datetime, str, int]]:
        """Every prepaid top-up (added_at, account, minutes), oldest first."""
        rows = await self._pool.fetch(
            "SELECT added_at, account, minutes FROM billing_prepaid ORDER BY added_at, id"
        )
        return [(row["added_at"], row["account"], row["minutes"]) for row in rows]

    async def account_terms(self) -> tuple[dict[str, AccountTerms], dict[str, int]]:
        """Every account's rate card and prepaid low mark."""
        rows = await self._pool.fetch(
            "SELECT account, rates::text AS rates, prepaid_low_minutes FROM billing_accounts"
        )
        rates = {row["account"]: _terms(row["rates"], None) for row in rows}
        return rates, {row["account"]: row["prepaid_low_minutes"] for row in rows}

    async def accounts(self) -> list[str]:
        """Every account with a charge."""
        rows = await self._pool.fetch("SELECT DISTINCT account FROM billing_charges")
        return [row["account"] for row in rows]

    async def outbox_pending(self) -> int:
        return await outbox.pending(self._pool, SERVICE)
