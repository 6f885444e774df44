"""What the billing API and the CLI read: an account's charges, its monthly statement, its
prepaid time and TAM hours; and the admin's account terms."""

from __future__ import annotations

from services.billing.domain.accounts import LedgerCharge, Prepaid, TamUsage
from services.billing.domain.ledger import PREPAID_LOW_MINUTES
from services.billing.domain.rules import AccountTerms
from services.billing.domain.statement import Statement, statement
from services.billing.service_layer.ports import LedgerStore


class BillingReads:
    def __init__(self, store: LedgerStore) -> None:
        self._store = store

    async def charges(self, account: str, month: str | None) -> list[LedgerCharge]:
        return await self._store.charges(account, month)

    async def statement(self, account: str, month: str) -> Statement:
        return statement(account, month, await self._store.charges(account, month))

    async def prepaid(self, account: str) -> Prepaid | None:
        return await self._store.prepaid(account)

    async def tam(self, account: str, month: str) -> TamUsage | None:
        return await self._store.tam(account, month)

    async def set_terms(
        self, account: str, terms: AccountTerms, low_at_minutes: int = PREPAID_LOW_MINUTES
    ) -> None:
        await self._store.set_terms(account, terms, low_at_minutes)

    async def outbox_pending(self) -> int:
        return await self._store.outbox_pending()

    async def top_up(self, account: str, minutes: int) -> Prepaid:
        if minutes <= 0:
            raise ValueError("a top-up adds a positive number of minutes")
        return await self._store.top_up(account, minutes)
