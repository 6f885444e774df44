"""TAM hours per calendar month (voximplant 6.3: "The total number of TAM's service hours per
month ... is limited to the number of hours specified in the Service Plan. If the limit is
exhausted TAM shall ... be entitled to redirect all Tickets and Client's questions to the
Support Center's Email").

The month is the calendar month of the work's start in the policy's TAM timezone. A budget
warns once the month's hours reach 75 % of the plan's, and is exhausted by the first minute
beyond them: a silver plan's 8 hours are its own, the 9th is past the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

WARN_AT = 0.75


class BudgetState(StrEnum):
    WITHIN = "within"
    WARNING = "warning"
    EXHAUSTED = "exhausted"


@dataclass(frozen=True, slots=True)
class TamBudget:
    hours_by_plan: dict[str, int]
    timezone: str = "UTC"
    source: str = ""

    def hours(self, plan: str | None) -> int | None:
        """The plan's monthly TAM hours; None: the plan has no TAM."""
        return self.hours_by_plan.get(plan or "")


def state(used_minutes: int, budget_hours: int) -> BudgetState:
    limit = budget_hours * 60
    if used_minutes > limit:
        return BudgetState.EXHAUSTED
    if used_minutes >= WARN_AT * limit:
        return BudgetState.WARNING
    return BudgetState.WITHIN


def crossed(before_minutes: int, after_minutes: int, budget_hours: int) -> list[BudgetState]:
    """The thresholds a month's usage passes going from `before` to `after` minutes, in order
    (each once: a usage that only grows passes each at most one time)."""
    order = [BudgetState.WITHIN, BudgetState.WARNING, BudgetState.EXHAUSTED]
    lo = order.index(state(before_minutes, budget_hours))
    hi = order.index(state(after_minutes, budget_hours))
    return order[lo + 1 : hi + 1]
