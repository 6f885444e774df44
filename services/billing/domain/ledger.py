"""What changes in an account's ledger when a ticket's charges are computed again.

Charges are recomputed from the whole ticket history on every billing-relevant event, so a
changed determination simply yields another set: a charge that is gone or different is
voided, a new or different one assessed. Unchanged charges produce nothing, which is what
makes redelivery and replay harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.billing.domain.charges import Charge

PREPAID_LOW_MINUTES = 60
"""An account's prepaid time is low at one hour left unless its terms say otherwise."""


@dataclass(frozen=True, slots=True)
class Change:
    assessed: list[Charge]
    voided: list[Charge]


def _same(a: Charge, b: Charge) -> bool:
    return (a.amount, a.currency, a.billed_minutes, a.prepaid_minutes) == (
        b.amount,
        b.currency,
        b.billed_minutes,
        b.prepaid_minutes,
    )


def diff(before: Sequence[Charge], after: Sequence[Charge]) -> Change:
    old = {charge.key: charge for charge in before}
    new = {charge.key: charge for charge in after}
    voided = [c for key, c in old.items() if key not in new or not _same(c, new[key])]
    assessed = [c for key, c in new.items() if key not in old or not _same(c, old[key])]
    return Change(assessed, voided)


def prepaid_crossings(before: int, after: int, low_at: int = PREPAID_LOW_MINUTES) -> list[str]:
    """What the balance (minutes) falling from `before` to `after` announces: `prepaid.exhausted`
    when it reaches zero, else `prepaid.low` when it falls to `low_at` or below."""
    if before > 0 >= after:
        return ["prepaid.exhausted"]
    if before > low_at >= after:
        return ["prepaid.low"]
    return []
