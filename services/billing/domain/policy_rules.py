"""A policy's `charges:` and `tam:` as the billing arithmetic reads them."""

from __future__ import annotations

from services.billing.domain.rules import Basis, ChargeRule, Money, Window
from services.billing.domain.tam import TamBudget
from shared.policy import Policy
from shared.policy.schema import Charge


def _rule(charge: Charge) -> ChargeRule:
    price = charge.price
    return ChargeRule(
        name=charge.name,
        basis=Basis(charge.basis),
        source=charge.source or charge.applies_when,
        price=Money(price.amount, price.currency) if price is not None else None,
        rate_card=charge.rate_card,
        priorities=frozenset(charge.priorities) if charge.priorities is not None else None,
        flags=frozenset(charge.flags),
        unplanned_only=charge.unplanned_only,
        free_plans=frozenset(charge.free_plans),
        requires=tuple((kind, values[0]) for kind, values in charge.requires.pairs()),
        waived_when=tuple((kind, frozenset(values)) for kind, values in charge.waived_when.pairs()),
        work=frozenset(str(rate) for rate in charge.work) if charge.work is not None else None,
        window=Window(charge.window),
        minimum_minutes=round(charge.minimum_hours * 60),
        increment_minutes=charge.increment_minutes,
        prepaid=charge.prepaid,
    )


def rules_of(policy: Policy) -> tuple[ChargeRule, ...]:
    return tuple(_rule(charge) for charge in policy.charges)


def tam_of(policy: Policy) -> TamBudget | None:
    spec = policy.spec.tam
    if spec is None:
        return None
    return TamBudget(dict(spec.hours), spec.timezone, spec.source or "")
