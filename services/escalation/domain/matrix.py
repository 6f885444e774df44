"""An account's escalation matrix: the policy's default levels, critical priorities and support
calendar, with the account's override applied; and the two times it decides:
when the first page may go out (quiet hours) and when the next level is due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.calendar import BusinessCalendar
from shared.policy import EscalationSpec, Policy


class UnknownPolicy(LookupError):
    """No policy is loaded under the reference a ticket pinned."""


@dataclass(frozen=True, slots=True)
class Matrix:
    spec: EscalationSpec
    calendar: BusinessCalendar

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(self.spec.metrics)

    def is_critical(self, priority: str) -> bool:
        return priority in self.spec.critical

    def after_hours(self, priority: str, plan: str | None, metric: str) -> tuple[float, ...]:
        """Hours after the first page at which level i+1 is paged (level 1 at 0)."""
        return tuple(level.after_hours for level in self.spec.levels_for(priority, plan, metric))

    def page_time(self, priority: str, at: datetime) -> datetime:
        """A critical escalation pages at once; another one outside support hours waits for
        the next opening instead of waking someone at midnight."""
        if self.is_critical(priority) or self.calendar.is_open(at):
            return at
        return self.calendar.next_opening(at)

    def next_level_due(
        self, priority: str, plan: str | None, metric: str, level: int, raised_at: datetime
    ) -> datetime | None:
        """When level `level + 1` is paged if nobody acknowledges; None after the last."""
        hours = self.after_hours(priority, plan, metric)
        if level >= len(hours):
            return None
        wait = timedelta(hours=hours[level])
        if self.is_critical(priority):
            return raised_at + wait
        return self.calendar.add(raised_at, wait)


def matrix_for(policy: Policy, override: Mapping[str, Any] | None = None) -> Matrix:
    """The policy's matrix with the account's override (`levels`, `critical`, `rules`) on
    top; an invalid override raises `ValueError` naming the field."""
    spec = policy.escalation_with(dict(override) if override else None)
    return Matrix(spec=spec, calendar=policy.calendar(spec.support_calendar))
