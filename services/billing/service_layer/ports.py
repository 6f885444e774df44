"""What the billing use cases need from the outside, as protocols: the PostgreSQL adapter
(`adapters/postgres.py`) implements them, and the unit tests' in-memory fakes do too."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from services.billing.domain.accounts import LedgerCharge, Prepaid, TamUsage
from services.billing.domain.rules import AccountTerms
from shared.events.billing import BillingEvent
from shared.sla.timeline import TimelineEvent


class LedgerWork(Protocol):
    """One transaction: the ticket's billing history, the account's ledger, the consumer's
    tracking row and the outgoing events (outbox) commit together, or not at all."""

    async def first_time(self, event_id: uuid.UUID) -> bool:
        """Record the tracking row of `event_id`; False when it was handled already."""
        ...

    async def append(self, ticket_id: str, event: TimelineEvent) -> None:
        """Add a billing-relevant event to the ticket's history."""
        ...

    async def history(self, ticket_id: str) -> list[TimelineEvent]:
        """The ticket's billing-relevant events, in sequence order."""
        ...

    async def charges_of(self, ticket_id: str) -> list[LedgerCharge]:
        """The ticket's charges in force (not voided)."""
        ...

    async def save(self, assessed: Sequence[LedgerCharge], voided: Sequence[LedgerCharge]) -> None:
        """Insert `assessed`, mark `voided` (their `voided_at` set)."""
        ...

    async def terms(self, account: str) -> AccountTerms:
        """The account's rate card and prepaid balance (its top-ups less what the charges in
        force draw; None: it never had prepaid time), locked for this transaction."""
        ...

    async def prepaid_low_at(self, account: str) -> int: ...

    async def add_tam(self, account: str, month: str, minutes: int, budget_hours: int) -> int:
        """Count `minutes` toward the month, whose plan's budget is `budget_hours`; the month's
        total after it (one atomic step: replicas counting the same month do not race)."""
        ...

    async def publish(self, event: BillingEvent) -> None:
        """Queue `event` for `ticketflow.billing` (sent after the commit)."""
        ...


class LedgerStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[LedgerWork]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        ...

    async def charges(self, account: str, month: str | None) -> list[LedgerCharge]:
        """The account's charges (voided ones too), oldest first; `month` None: every month."""
        ...

    async def prepaid(self, account: str) -> Prepaid | None: ...

    async def tam(self, account: str, month: str) -> TamUsage | None:
        """The month's TAM minutes and budget; None: no TAM work counted that month."""
        ...

    async def set_terms(self, account: str, rates: AccountTerms, low_at_minutes: int) -> None:
        """The account's rate card (`rates.rates`) and its prepaid low mark."""
        ...

    async def top_up(self, account: str, minutes: int) -> Prepaid:
        """Add prepaid minutes (starting the account's prepaid time if it had none)."""
        ...

    async def outbox_pending(self) -> int:
        """Outgoing events not published yet."""
        ...
