"""Holiday rules: fixed dates, nth weekday of a month, Easter-relative, relative to another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@dataclass(frozen=True, slots=True)
class FixedDate:
    name: str
    month: int
    day: int

    def on(self, year: int, _known: dict[str, date]) -> date:
        return date(year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class NthWeekday:
    """The `nth` `weekday` (0 = Monday) of `month`; nth = -1 is the last one."""

    name: str
    month: int
    weekday: int
    nth: int

    def on(self, year: int, _known: dict[str, date]) -> date:
        if self.nth > 0:
            first = date(year, self.month, 1)
            shift = (self.weekday - first.weekday()) % 7
            result = first + timedelta(days=shift + 7 * (self.nth - 1))
        else:
            following = date(year + (self.month == 12), self.month % 12 + 1, 1)
            last = following - timedelta(days=1)
            shift = (last.weekday() - self.weekday) % 7
            result = last - timedelta(days=shift + 7 * (-self.nth - 1))
        if result.month != self.month:
            raise ValueError(f"{self.name}: there is no occurrence {self.nth} in {year}")
        return result


@dataclass(frozen=True, slots=True)
class EasterRelative:
    """`offset_days` from Easter Sunday (Good Friday = -2)."""

    name: str
    offset_days: int

    def on(self, year: int, _known: dict[str, date]) -> date:
        return easter_sunday(year) + timedelta(days=self.offset_days)


@dataclass(frozen=True, slots=True)
class RelativeToHoliday:
    """`offset_days` from another holiday of the same calendar ("day before Thanksgiving")."""

    name: str
    relative_to: str
    offset_days: int

    def on(self, year: int, known: dict[str, date]) -> date:
        if self.relative_to not in known:
            raise ValueError(f"{self.name}: refers to unknown holiday {self.relative_to!r}")
        return known[self.relative_to] + timedelta(days=self.offset_days)


HolidayRule = FixedDate | NthWeekday | EasterRelative | RelativeToHoliday


def holidays_in_year(rules: tuple[HolidayRule, ...], year: int) -> dict[str, date]:
    """Every rule's date in `year`, by holiday name. Relative rules may come in any order."""
    return dict(_cached(rules, year))


@lru_cache(maxsize=4096)
def _cached(rules: tuple[HolidayRule, ...], year: int) -> tuple[tuple[str, date], ...]:
    known: dict[str, date] = {}
    pending = list(rules)
    while pending:
        progressed = False
        for rule in list(pending):
            if isinstance(rule, RelativeToHoliday) and rule.relative_to not in known:
                continue
            known[rule.name] = rule.on(year, known)
            pending.remove(rule)
            progressed = True
        if not progressed:
            names = ", ".join(rule.name for rule in pending)
            raise ValueError(f"holiday rules refer to missing or circular holidays: {names}")
    return tuple(known.items())
