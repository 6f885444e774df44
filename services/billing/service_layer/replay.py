"""Ledgers recomputed from history: every billing-relevant event of the event store, in the
order it was recorded, through the same use case as the live service, into an in-memory
ledger. `ticketflow billing statement` prints a statement from it; `billing replay` compares
it with the service's ledger, charge by charge."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.billing.adapters.memory import MemoryLedger
from services.billing.domain.accounts import LedgerCharge
from services.billing.domain.history import TicketEventIn
from services.billing.domain.ledger import PREPAID_LOW_MINUTES
from services.billing.domain.rules import AccountTerms
from services.billing.service_layer.ledger import Biller, UnknownPolicy, UnknownTicket
from shared.policy import Policy


@dataclass(frozen=True, order=True, slots=True)
class TopUp:
    added_at: datetime
    account: str
    minutes: int


@dataclass
class Rebuilt:
    ledger: MemoryLedger
    events: int = 0
    tickets: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)
    """Event id -> why the use case refused it (the live service dead-letters those too)."""
    seconds: float = 0.0


async def rebuild(
    events: AsyncIterable[TicketEventIn],
    policies: Mapping[str, Policy],
    rates: Mapping[str, AccountTerms],
    top_ups: Sequence[TopUp],
    low_at: Mapping[str, int],
    now: Callable[[], datetime],
    progress: Callable[[int], None] = lambda n: None,
) -> Rebuilt:
    """Run `events` through `Biller` on a fresh in-memory ledger holding the accounts' rate
    cards and low marks as the service has them, each prepaid top-up applied before the
    first event recorded after it (as the live service saw them)."""
    ledger = MemoryLedger()
    for account, terms in rates.items():
        await ledger.set_terms(account, terms, low_at.get(account, PREPAID_LOW_MINUTES))
    pending = sorted(top_ups)
    biller = Biller(ledger, policies, now)
    found = Rebuilt(ledger)
    started = time.perf_counter()
    async for incoming in events:
        arrived = incoming.event.arrived_at
        while pending and pending[0].added_at <= arrived:
            added = pending.pop(0)
            await ledger.top_up(added.account, added.minutes)
        try:
            await biller.on_ticket_event(incoming)
        except (UnknownPolicy, UnknownTicket) as exc:
            found.refused[str(incoming.event_id)] = f"{type(exc).__name__}: {exc}"
        found.events += 1
        found.tickets.add(incoming.ticket_id)
        if found.events % 10_000 == 0:
            progress(found.events)
    for added in pending:
        await ledger.top_up(added.account, added.minutes)
    found.seconds = time.perf_counter() - started
    return found


def _key(entry: LedgerCharge) -> tuple[str, str]:
    return (entry.ticket_id, entry.charge.key)


def _same(a: LedgerCharge, b: LedgerCharge) -> bool:
    x, y = a.charge, b.charge
    return (x.amount, x.currency, x.billed_minutes, x.prepaid_minutes) == (
        y.amount,
        y.currency,
        y.billed_minutes,
        y.prepaid_minutes,
    )


def differences(rebuilt: list[LedgerCharge], stored: list[LedgerCharge]) -> list[dict[str, object]]:
    """Charges in force that history and the service's ledger do not agree on."""
    mine = {_key(e): e for e in rebuilt if e.voided_at is None}
    theirs = {_key(e): e for e in stored if e.voided_at is None}
    out: list[dict[str, object]] = []
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a is not None and b is not None and _same(a, b):
            continue
        out.append(
            {
                "ticket_id": key[0],
                "charge": key[1],
                "history": None if a is None else str(a.charge.amount),
                "ledger": None if b is None else str(b.charge.amount),
            }
        )
    return out
