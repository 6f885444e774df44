"""An account's escalation matrix: the policy's default levels, critical priorities and support
calendar, with the account's override applied; and the two times it decides:
when the first page may go out (quiet hours) and when the next level is due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.calendar import BusinessCalendar
from shared.policy import Policy


@dataclass(frozen=True, slots=True)
class Matrix:
    after_hours: tuple[float, ...]
    """Hours after the first page at which level i+1 is paged (level 1 at 0)."""
    critical: frozenset[str]
    metrics: frozenset[str]
    calendar: BusinessCalendar

    @property
    def levels(self) -> int:
        return len(self.after_hours)

    def is_critical(self, priority: str) -> bool:
        return priority in self.critical

    def page_time(self, priority: str, at: datetime) -> datetime:
        """A critical escalation pages at once; another one outside support hours waits for
        the next opening instead of waking someone at midnight."""
        if self.is_critical(priority) or self.calendar.is_open(at):
            return at
        return self.calendar.next_opening(at)

    def next_level_due(self, priority: str, level: int, raised_at: datetime) -> datetime | None:
        """When level `level + 1` is paged if nobody acknowledges; None after the last."""
        if level >= self.levels:
            return None
        wait = timedelta(hours=self.after_hours[level])
        if self.is_critical(priority):
            return raised_at + wait
        return self.calendar.add(raised_at, wait)


def matrix_for(policy: Policy, override: Mapping[str, Any] | None = None) -> Matrix:
    """The policy's matrix with the account's override (`levels`, `critical`) on top; an
    invalid override raises `ValueError` naming the field."""
    spec = policy.escalation_with(dict(override) if override else None)
    return Matrix(
        after_hours=tuple(level.after_hours for level in spec.levels),
        critical=frozenset(spec.critical),
        metrics=frozenset(spec.metrics),
        calendar=policy.calendar(spec.support_calendar),
    )
