"""A charge rule as the billing arithmetic reads it (compiled from a policy's `charges:`).

A rule says which tickets it applies to (priorities at opening, intake flags, tickets opened
without a plan), what must have been determined before anything is charged (`requires`:
"not the provider's fault"), what waives it (`waived_when`: "caused by a bug"), and its basis:
a flat amount per incident, the logged hours at a rate, or each fee quote the customer approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Basis(StrEnum):
    INCIDENT = "incident"
    HOURS = "hours"
    QUOTE = "quote"


class Window(StrEnum):
    """Which logged minutes an hourly rule bills: all of them, those inside an ESS session
    (emergency rates), or those of an emergency ticket outside its sessions (standard rates)."""

    ANY = "any"
    ESS = "ess"
    OUTSIDE_ESS = "outside_ess"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")


@dataclass(frozen=True, slots=True)
class ChargeRule:
    name: str
    basis: Basis
    source: str
    price: Money | None = None
    """The flat amount (incident) or the hourly rate (hours); None: the account's rate card."""
    rate_card: str | None = None
    """The account's rate this rule bills at when `price` is None (voice1: emergency, standard)."""
    priorities: frozenset[str] | None = None
    """Priorities at opening it applies to; None: every priority."""
    flags: frozenset[str] = frozenset()
    """Intake flags the opening must carry (`off_hours_p1_billable_review`)."""
    unplanned_only: bool = False
    """Only tickets opened without a paid plan: no plan, a plan in `free_plans`, or a plan
    that had ended (`entitled: false`) (kolmisoft's paid support)."""
    free_plans: frozenset[str] = frozenset()
    requires: tuple[tuple[str, str], ...] = ()
    """Determinations that must be on record before it charges, e.g. (("fault", "customer"),)."""
    waived_when: tuple[tuple[str, frozenset[str]], ...] = ()
    """Determinations that waive it, e.g. (("cause", {"bug"}),)."""
    work: frozenset[str] | None = None
    """Logged work rates it bills (hours basis); None: every logged minute."""
    window: Window = Window.ANY
    minimum_minutes: int = 0
    increment_minutes: int = 15
    prepaid: bool = False
    """ESS minutes draw from the account's prepaid time first; the session ends when it runs out."""

    def __post_init__(self) -> None:
        if self.price is None and self.rate_card is None and self.basis is not Basis.QUOTE:
            raise ValueError(f"charge {self.name}: needs a price or a rate_card")
        if self.increment_minutes < 1 or self.minimum_minutes < 0:
            raise ValueError(f"charge {self.name}: increment >= 1 and minimum >= 0 minutes")


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """What billing knows of an account beyond its policy: its rate card (voice1's "rate card
    is published elsewhere") and the prepaid support time it has left, in minutes."""

    rates: dict[str, Money] = field(default_factory=dict)
    prepaid_minutes: int | None = None
