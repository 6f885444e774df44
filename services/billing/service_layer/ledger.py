"""Record a ticket event and bring the account's ledger up to date.

Every billing-relevant event recomputes the ticket's charges from its whole history
(`domain.charges`); the difference with the charges in force is assessed and voided, the
prepaid balance moves by what the ticket draws more or less, and a TAM work log counts toward
its month. All of it, the tracking row of the event and the outgoing events commit in one
transaction: a redelivered event finds its tracking row and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from prometheus_client import Counter

from services.billing.domain.accounts import STATEMENT_ZONE, LedgerCharge
from services.billing.domain.charges import Charge, charges
from services.billing.domain.history import NotOpened, TicketEventIn, TicketHistory, fold
from services.billing.domain.ledger import diff, prepaid_crossings
from services.billing.domain.policy_rules import rules_of, tam_of
from services.billing.domain.rules import AccountTerms, ChargeRule
from services.billing.domain.tam import BudgetState, crossed
from services.billing.service_layer.ports import LedgerStore, LedgerWork
from services.billing.service_layer.publishing import (
    charge_event,
    prepaid_event,
    tam_event,
)
from shared.calendar import month_of
from shared.events.types import TicketEventType as T
from shared.policy import Policy

log = logging.getLogger("ticketflow.billing")
SERVICE = "billing"
ASSESSED = Counter("ticketflow_charges_total", "Charges assessed and voided", ["outcome"])

RELEVANT = frozenset(
    {
        T.OPENED.value,
        T.WORK_LOGGED.value,
        T.DETERMINATION_RECORDED.value,
        T.ESS_STARTED.value,
        T.ESS_STOPPED.value,
        T.FEE_QUOTED.value,
        T.QUOTE_ANSWERED.value,
        T.RESOLVED.value,
        T.WORKAROUND_PROVIDED.value,
        T.CLOSED.value,
    }
)
"""The ticket events a charge can depend on; the others are not billing's business."""


TAM_EVENTS = {
    BudgetState.WARNING: "tam.budget_warning",
    BudgetState.EXHAUSTED: "tam.budget_exhausted",
}


class UnknownPolicy(LookupError):
    """No policy is loaded under the reference a ticket pinned."""


class UnknownTicket(LookupError):
    """An event of a ticket whose `ticket.opened` billing has not seen."""


class Biller:
    def __init__(
        self,
        store: LedgerStore,
        policies: Mapping[str, Policy],
        now: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._policies = policies
        self._now = now
        self._on_commit = on_commit
        self._rules: dict[str, tuple[ChargeRule, ...]] = {}

    def rules(self, policy: Policy) -> tuple[ChargeRule, ...]:
        """The policy's charge rules, compiled once per policy."""
        found = self._rules.get(policy.ref)
        if found is None:
            found = self._rules[policy.ref] = rules_of(policy)
        return found

    def policy(self, ref: str) -> Policy:
        found = self._policies.get(ref)
        if found is None:
            raise UnknownPolicy(ref)
        return found

    async def on_ticket_event(self, incoming: TicketEventIn) -> str:
        """`ignored`, `duplicate` or `recorded`; raises UnknownPolicy / UnknownTicket."""
        if incoming.event.type not in RELEVANT:
            return "ignored"
        policy = self.policy(incoming.policy)
        async with self._store.transaction() as work:
            if not await work.first_time(incoming.event_id):
                return "duplicate"
            await work.append(incoming.ticket_id, incoming.event)
            try:
                history = fold(await work.history(incoming.ticket_id))
            except NotOpened as exc:
                raise UnknownTicket(f"{incoming.ticket_id}: {exc}") from None
            await self._charge(work, incoming, history, policy)
            await self._count_tam(work, incoming, history, policy)
        self._on_commit()
        return "recorded"

    async def _charge(
        self, work: LedgerWork, incoming: TicketEventIn, history: TicketHistory, policy: Policy
    ) -> None:
        rules = self.rules(policy)
        if not rules:
            return
        # The account's row (rate card, prepaid balance) is read and locked only for a policy
        # that prices from it: the others' charges never depend on it.
        uses_terms = any(rule.rate_card is not None or rule.prepaid for rule in rules)
        terms = await work.terms(incoming.account) if uses_terms else AccountTerms()
        before = await work.charges_of(incoming.ticket_id)
        drew = sum(c.charge.prepaid_minutes for c in before)
        available = None if terms.prepaid_minutes is None else terms.prepaid_minutes + drew
        now = charges(history, rules, replace(terms, prepaid_minutes=available))
        change = diff([c.charge for c in before], now)
        voided = [c for c in before if c.charge in change.voided]
        assessed = [self._ledger(incoming, charge) for charge in change.assessed]
        at = self._now()
        await work.save(assessed, [replace(c, voided_at=at) for c in voided])
        for entry in voided:
            await work.publish(charge_event("charge.voided", entry, incoming))
        for entry in assessed:
            await work.publish(charge_event("charge.assessed", entry, incoming))
        ASSESSED.labels("voided").inc(len(voided))
        ASSESSED.labels("assessed").inc(len(assessed))
        if available is not None:
            await self._draw(work, incoming, terms.prepaid_minutes or 0, drew, now)

    def _ledger(self, incoming: TicketEventIn, charge: Charge) -> LedgerCharge:
        ticket = incoming.ticket_id
        return LedgerCharge(
            charge_id=uuid.uuid5(incoming.event_id, f"{ticket}|{charge.key}"),
            ticket_id=ticket,
            account=incoming.account,
            policy=incoming.policy,
            month=month_of(incoming.event.at, STATEMENT_ZONE),
            assessed_at=self._now(),
            charge=charge,
        )

    async def _draw(
        self,
        work: LedgerWork,
        incoming: TicketEventIn,
        balance: int,
        drew: int,
        now: Sequence[Charge],
    ) -> None:
        """Announce the thresholds the balance passed (it is derived: top-ups less what the
        charges in force draw, so saving the charges moved it already)."""
        draws = sum(charge.prepaid_minutes for charge in now)
        if draws == drew:
            return
        after = balance - (draws - drew)
        low_at = await work.prepaid_low_at(incoming.account)
        for kind in prepaid_crossings(balance, after, low_at):
            log.info("account %s: %s (%d min left)", incoming.account, kind, after)
            await work.publish(prepaid_event(kind, after, low_at, incoming))

    async def _count_tam(
        self, work: LedgerWork, incoming: TicketEventIn, history: TicketHistory, policy: Policy
    ) -> None:
        event = incoming.event
        budget = tam_of(policy)
        if event.type != T.WORK_LOGGED or event.data.get("rate") != "tam" or budget is None:
            return
        hours = budget.hours(history.plan)
        if hours is None:
            return
        started = datetime.fromisoformat(event.data["started_at"])
        month = month_of(started, budget.timezone)
        minutes = int(event.data["minutes"])
        after = await work.add_tam(incoming.account, month, minutes, hours)
        before = after - minutes
        for reached in crossed(before, after, hours):
            kind = (
                "tam.budget_exhausted" if reached is BudgetState.EXHAUSTED else "tam.budget_warning"
            )
            log.info(
                "account %s: %s for %s (%d of %d h)",
                incoming.account,
                kind,
                month,
                after // 60,
                hours,
            )
            await work.publish(tam_event(kind, month, after, hours, incoming))
