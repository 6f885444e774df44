"""A business calendar compiled into a table: its open intervals over a range of local years
as integer UTC microseconds (sorted, disjoint), with the business time before each one (a
prefix sum). `position(t)` (business time before `t`) and its inverse `instant(p)` are a
bisect and some arithmetic, so `add` and `between` cost O(log n) and build no datetime: DST
and holidays were resolved when the table was built, from the calendar's own day intervals.

The table grows by whole local years as queries reach past it (both ways), up to a bound."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_YEARS = 40
"""The most local years a table spans; a query needing more is refused (ValueError)."""

DayIntervals = Callable[[int], Sequence[tuple[datetime, datetime]]]


def micros(instant: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (exact)."""
    return duration_micros(instant - EPOCH)


def duration_micros(duration: timedelta) -> int:
    """A duration in integer microseconds (exact; a third of the cost of dividing by a
    one-microsecond timedelta)."""
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def instant_of(value: int) -> datetime:
    """Integer microseconds since the epoch as an aware UTC instant (exact; with positional
    arguments the fastest way here: `fromtimestamp` and `replace` take three times as long
    when there are microseconds)."""
    return EPOCH + timedelta(0, 0, value)


class CalendarTable:
    """The compiled intervals of one calendar; `day_intervals(ordinal)` gives a local date's
    open intervals in UTC (the calendar's cached day table)."""

    __slots__ = (
        "_day_intervals",
        "_ends",
        "_first_year",
        "_high",
        "_last_year",
        "_low",
        "_prefix",
        "_starts",
        "_year_start",
        "_zone_year",
    )

    def __init__(
        self,
        day_intervals: DayIntervals,
        zone_year: Callable[[int], int],
        year_start: Callable[[int], int],
    ) -> None:
        """`zone_year(t)`: the local year of the instant `t` (integer microseconds);
        `year_start(y)`: the instant local year `y` begins."""
        self._day_intervals = day_intervals
        self._zone_year = zone_year
        self._year_start = year_start
        self._low = self._high = 0
        """The instants the table covers: [_low, _high), local years first to last."""
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._prefix: list[int] = [0]
        """_prefix[i]: business microseconds before interval i; the last: the total."""
        self._first_year = 0
        self._last_year = -1

    # --- building -----------------------------------------------------------------------------

    def _build(self, first_year: int, last_year: int) -> None:
        starts: list[int] = []
        ends: list[int] = []
        for ordinal in range(
            date(first_year, 1, 1).toordinal(), date(last_year + 1, 1, 1).toordinal()
        ):
            for opens, closes in self._day_intervals(ordinal):
                start, end = micros(opens), micros(closes)
                if starts and start <= ends[-1]:  # touching or overlapping: one interval
                    ends[-1] = max(ends[-1], end)
                    continue
                starts.append(start)
                ends.append(end)
        prefix = [0]
        for start, end in zip(starts, ends, strict=True):
            prefix.append(prefix[-1] + end - start)
        self._starts, self._ends, self._prefix = starts, ends, prefix
        self._first_year, self._last_year = first_year, last_year
        self._low, self._high = self._year_start(first_year), self._year_start(last_year + 1)

    def _cover(self, value: int) -> None:
        """Make the table hold the local year of `value` (and the one after it, when it
        grows). Two integer comparisons when it holds it already."""
        if self._low <= value < self._high:
            return
        year = self._zone_year(value)
        self._ensure(year, year + 1)

    def _ensure(self, first_year: int, last_year: int) -> None:
        """Hold local years first_year..last_year: grow the table to them, or, when it would
        then span more than MAX_YEARS, build it anew around them alone (a process that once
        read old history still answers today's queries)."""
        if last_year - first_year + 1 > MAX_YEARS:
            raise ValueError(f"business time spanning more than {MAX_YEARS} years")
        if self._first_year <= first_year and last_year <= self._last_year:
            return
        if self._last_year >= self._first_year:
            grown = (min(first_year, self._first_year), max(last_year, self._last_year))
            if grown[1] - grown[0] + 1 <= MAX_YEARS:
                first_year, last_year = grown
        self._build(first_year, last_year)

    def _grow_forward(self, value: int) -> None:
        """Add years after the table's last (as many as it holds, doubling), keeping the local
        year of `value`, from which a query is under way."""
        span = self._last_year - self._first_year + 1
        self._ensure(self._zone_year(value), self._last_year + max(1, span))

    # --- queries ------------------------------------------------------------------------------

    def position(self, value: int) -> int:
        """Business microseconds in the table before the instant `value`."""
        self._cover(value)
        return self._position(value)

    def _position(self, value: int) -> int:
        index = bisect_right(self._starts, value) - 1
        if index < 0:
            return 0
        return self._prefix[index] + min(value, self._ends[index]) - self._starts[index]

    def add(self, value: int, duration: int) -> int:
        """The instant when `duration` (> 0) business microseconds have passed since `value`;
        a result that uses up an interval exactly is its closing instant. One bisect when
        the duration ends inside the interval holding `value` (an hours target, mostly)."""
        if not (self._low <= value < self._high):
            self._cover(value)
        starts = self._starts
        index = bisect_right(starts, value) - 1
        if index < 0:
            target = duration
        else:
            end = self._ends[index]
            if value + duration <= end:
                return value + duration
            target = self._prefix[index] + min(value, end) - starts[index] + duration
        while target > self._prefix[-1]:
            self._grow_forward(value)  # may drop old years: positions are read anew
            target = self._position(value) + duration
        # The interval whose cumulative end is the first at or after the target.
        index = bisect_left(self._prefix, target, 1) - 1
        return self._starts[index] + target - self._prefix[index]

    def between(self, start: int, end: int) -> int:
        """Business microseconds in [start, end) (end > start)."""
        if not (self._low <= start and end < self._high):
            # Both ends in one table (a rebuild moves the origin of the positions).
            self._ensure(self._zone_year(start), self._zone_year(end) + 1)
        return self._position(end) - self._position(start)
