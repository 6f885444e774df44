"""An in-memory twin of billing's PostgreSQL ledger (`LedgerStore`): the use-case tests run on
it, and `ticketflow billing statement` / `replay` recompute ledgers in it from the event
store. A transaction works on a copy and keeps it only when its block ends without raising."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace

from services.billing.domain.accounts import LedgerCharge, Prepaid, TamUsage
from services.billing.domain.ledger import PREPAID_LOW_MINUTES
from services.billing.domain.rules import AccountTerms
from shared.events.billing import BillingEvent
from shared.sla.timeline import TimelineEvent


@dataclass
class _State:
    seen: set[uuid.UUID] = field(default_factory=set)
    histories: dict[str, list[TimelineEvent]] = field(default_factory=dict)
    charges: list[LedgerCharge] = field(default_factory=list)
    rates: dict[str, AccountTerms] = field(default_factory=dict)
    top_ups: dict[str, int] = field(default_factory=dict)
    low_at: dict[str, int] = field(default_factory=dict)
    tam: dict[tuple[str, str], TamUsage] = field(default_factory=dict)
    published: list[BillingEvent] = field(default_factory=list)

    def terms(self, account: str) -> AccountTerms:
        rates = self.rates.get(account, AccountTerms())
        if account not in self.top_ups:
            return rates
        drawn = sum(
            c.charge.prepaid_minutes
            for c in self.charges
            if c.account == account and c.voided_at is None
        )
        return replace(rates, prepaid_minutes=self.top_ups[account] - drawn)


class MemoryWork:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def first_time(self, event_id: uuid.UUID) -> bool:
        if event_id in self.state.seen:
            return False
        self.state.seen.add(event_id)
        return True

    async def append(self, ticket_id: str, event: TimelineEvent) -> None:
        self.state.histories.setdefault(ticket_id, []).append(event)

    async def history(self, ticket_id: str) -> list[TimelineEvent]:
        return sorted(self.state.histories.get(ticket_id, []), key=lambda e: e.sequence or 0)

    async def charges_of(self, ticket_id: str) -> list[LedgerCharge]:
        return [c for c in self.state.charges if c.ticket_id == ticket_id and c.voided_at is None]

    async def save(self, assessed: Sequence[LedgerCharge], voided: Sequence[LedgerCharge]) -> None:
        gone = {c.charge_id: c for c in voided}
        self.state.charges = [gone.get(c.charge_id, c) for c in self.state.charges]
        self.state.charges += assessed

    async def terms(self, account: str) -> AccountTerms:
        return self.state.terms(account)

    async def prepaid_low_at(self, account: str) -> int:
        return self.state.low_at.get(account, PREPAID_LOW_MINUTES)

    async def add_tam(self, account: str, month: str, minutes: int, budget_hours: int) -> int:
        found = self.state.tam.get((account, month))
        used = (found.used_minutes if found else 0) + minutes
        self.state.tam[(account, month)] = TamUsage(month, used, budget_hours)
        return used

    async def publish(self, event: BillingEvent) -> None:
        self.state.published.append(event)


class MemoryLedger:
    def __init__(self) -> None:
        self.state = _State()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryWork]:
        work = MemoryWork(copy.deepcopy(self.state))
        yield work
        self.state = work.state

    @property
    def published(self) -> list[BillingEvent]:
        return self.state.published

    def accounts(self) -> set[str]:
        return {c.account for c in self.state.charges}

    async def charges(self, account: str, month: str | None) -> list[LedgerCharge]:
        return [
            c
            for c in self.state.charges
            if c.account == account and (month is None or c.month == month)
        ]

    async def prepaid(self, account: str) -> Prepaid | None:
        balance = self.state.terms(account).prepaid_minutes
        if balance is None:
            return None
        return Prepaid(balance, self.state.low_at.get(account, PREPAID_LOW_MINUTES))

    async def tam(self, account: str, month: str) -> TamUsage | None:
        return self.state.tam.get((account, month))

    async def set_terms(self, account: str, rates: AccountTerms, low_at_minutes: int) -> None:
        self.state.rates[account] = AccountTerms(dict(rates.rates))
        self.state.low_at[account] = low_at_minutes

    async def top_up(self, account: str, minutes: int) -> Prepaid:
        self.state.top_ups[account] = self.state.top_ups.get(account, 0) + minutes
        found = await self.prepaid(account)
        assert found is not None
        return found

    async def outbox_pending(self) -> int:
        """Nothing waits: the twin's events are published as they are queued."""
        return 0
