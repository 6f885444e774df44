"""charges(history, rules, terms) -> [Charge]: what a ticket costs under its policy's rules.

Rounding (the documents are silent, so this is ours): an hourly rule bills the minutes it
counts rounded up to its increment (15 minutes unless the policy says otherwise), then at
least its minimum ("a two (2) hour minimum"); the amount is rate x billed hours rounded half
up to the cent. Minutes drawn from prepaid time are not billed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.billing.domain.history import TicketHistory, Work
from services.billing.domain.rules import AccountTerms, Basis, ChargeRule, Money, Window
from services.billing.domain.sessions import split

CENT = Decimal("0.01")
NO_PLAN = frozenset({None, "none"})


@dataclass(frozen=True, slots=True)
class Charge:
    rule: str
    key: str
    """Unique within the ticket: the rule's name, or `rule:quote_id` for a quote."""
    basis: Basis
    amount: Decimal | None
    """None: the account's rate card has no rate for it (the statement lists it to price)."""
    currency: str | None
    source: str
    worked_minutes: int = 0
    billed_minutes: int = 0
    prepaid_minutes: int = 0
    rate: Decimal | None = None


def applies(rule: ChargeRule, history: TicketHistory) -> bool:
    if rule.priorities is not None and history.priority not in rule.priorities:
        return False
    if not rule.flags <= history.flags:
        return False
    if rule.unplanned_only:
        unplanned = history.plan in NO_PLAN or history.plan in rule.free_plans
        return unplanned or not history.entitled
    return True


def decided(rule: ChargeRule, history: TicketHistory) -> bool:
    """Every determination the rule needs is on record, and none that waives it."""
    found = history.determinations
    if any(found.get(kind) != value for kind, value in rule.requires):
        return False
    return not any(found.get(kind) in values for kind, values in rule.waived_when)


def bill_minutes(minutes: int, rule: ChargeRule) -> int:
    """Rounded up to the increment, then at least the minimum (0 stays 0)."""
    if minutes <= 0:
        return 0
    step = rule.increment_minutes
    return max(-(-minutes // step) * step, rule.minimum_minutes)


def _price(rule: ChargeRule, terms: AccountTerms) -> Money | None:
    if rule.price is not None:
        return rule.price
    return terms.rates.get(rule.rate_card or "")


def _counted(rule: ChargeRule, work: Sequence[Work]) -> list[Work]:
    return [item for item in work if rule.work is None or item.rate in rule.work]


def _hours(
    rule: ChargeRule, history: TicketHistory, terms: AccountTerms, prepaid_time: int | None
) -> Charge | None:
    """`prepaid_time`: the prepaid minutes ESS sessions draw from (None: they draw none); the
    same for the rule inside sessions and the one outside, so both see a session end when it
    runs out."""
    work = _counted(rule, history.work)
    prepaid = 0
    if rule.window is Window.ANY:
        worked = sum(item.minutes for item in work)
    else:
        drawn = split(work, history.sessions, prepaid_time)
        worked = drawn.inside if rule.window is Window.ESS else drawn.outside
        prepaid = drawn.prepaid if rule.window is Window.ESS else 0
    if worked == 0:
        return None
    billed = bill_minutes(worked - prepaid, rule)
    price = _price(rule, terms)
    amount = None if price is None else (price.amount * billed / 60).quantize(CENT, ROUND_HALF_UP)
    return Charge(
        rule.name,
        rule.name,
        rule.basis,
        amount,
        price.currency if price else None,
        rule.source,
        worked_minutes=worked,
        billed_minutes=billed,
        prepaid_minutes=prepaid,
        rate=price.amount if price else None,
    )


def _quotes(rule: ChargeRule, history: TicketHistory) -> Iterable[Charge]:
    for quote in history.quotes.values():
        if quote.approved:
            yield Charge(
                rule.name,
                f"{rule.name}:{quote.quote_id}",
                rule.basis,
                quote.amount.quantize(CENT),
                quote.currency,
                rule.source,
            )


def charges(
    history: TicketHistory, rules: Sequence[ChargeRule], terms: AccountTerms
) -> list[Charge]:
    """The ticket's charges now, one per rule that applies (one per approved quote)."""
    out: list[Charge] = []
    applicable = [rule for rule in rules if applies(rule, history) and decided(rule, history)]
    draws = any(rule.prepaid for rule in applicable)
    prepaid_time = terms.prepaid_minutes if draws else None
    for rule in applicable:
        if rule.basis is Basis.INCIDENT:
            price = _price(rule, terms)
            out.append(
                Charge(
                    rule.name,
                    rule.name,
                    rule.basis,
                    price.amount.quantize(CENT) if price else None,
                    price.currency if price else None,
                    rule.source,
                )
            )
        elif rule.basis is Basis.QUOTE:
            out.extend(_quotes(rule, history))
        else:
            hours = _hours(rule, history, terms, prepaid_time)
            if hours is not None:
                out.append(hours)
    return out
