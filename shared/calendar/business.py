"""Business-time arithmetic over weekly hours, holidays and a time zone.

Business hours are wall-clock times in the calendar's zone; each local day's open intervals are
converted to UTC once (so a DST change moves them by the hour it should) and cached. All
instants in and out are timezone-aware; durations are business time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from shared.calendar.holidays import HolidayRule, holidays_in_year
from shared.calendar.table import CalendarTable, duration_micros, instant_of, micros

MINUTES_PER_DAY = 24 * 60
ZERO = timedelta(0)
# How far add() and next_opening() look ahead before declaring the calendar closed for good.
SEARCH_DAYS = 3 * 366

Interval = tuple[datetime, datetime]
DayHours = tuple[tuple[int, int], ...]  # (start minute, end minute], end may be 1440


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Open intervals per weekday, Monday first, in minutes after local midnight."""

    days: tuple[DayHours, DayHours, DayHours, DayHours, DayHours, DayHours, DayHours]

    def __post_init__(self) -> None:
        for index, intervals in enumerate(self.days):
            previous_end = -1
            for start, end in intervals:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(f"weekday {index}: bad interval {start}-{end} (minutes)")
                if start < previous_end:
                    raise ValueError(f"weekday {index}: intervals overlap or are out of order")
                previous_end = end

    @classmethod
    def around_the_clock(cls) -> WeeklyHours:
        full: DayHours = ((0, MINUTES_PER_DAY),)
        return cls((full,) * 7)

    @property
    def weekly_minutes(self) -> int:
        return sum(end - start for day in self.days for start, end in day)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: business time needs an aware instant")


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """A support calendar. `always=True` is a 24x7 calendar with plain elapsed-time arithmetic.

    `support_day` is the business time a "support day" stands for in this calendar (e.g. one
    10-hour standard day), used by targets written in support days.
    """

    name: str
    zone: tzinfo
    weekly: WeeklyHours
    holidays: tuple[HolidayRule, ...] = ()
    always: bool = False
    support_day: timedelta | None = None
    _days: dict[int, tuple[Interval, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    _tables: list[CalendarTable] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        if not self.always and self.weekly.weekly_minutes == 0:
            raise ValueError(f"calendar {self.name!r} is never open")

    @property
    def table(self) -> CalendarTable:
        """The compiled table `add` and `between` read (built on first use, then grown)."""
        if not self._tables:
            self._tables.append(CalendarTable(self.intervals, self._year_of, self._year_start))
        return self._tables[0]

    def _year_of(self, value: int) -> int:
        return instant_of(value).astimezone(self.zone).year

    def _year_start(self, year: int) -> int:
        return micros(datetime(year, 1, 1, tzinfo=self.zone))

    # --- the day table ------------------------------------------------------------------------

    def _local_day(self, instant: datetime) -> int:
        return instant.astimezone(self.zone).toordinal()

    def intervals(self, day_ordinal: int) -> tuple[Interval, ...]:
        """Open intervals (UTC) of one local date, given as a proleptic ordinal."""
        cached = self._days.get(day_ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(day_ordinal)
        result: list[Interval] = []
        if day not in set(holidays_in_year(self.holidays, day.year).values()):
            for start, end in self.weekly.days[day.weekday()]:
                opens = self._to_utc(day, start)
                closes = self._to_utc(day, end)
                if closes > opens:
                    result.append((opens, closes))
        intervals = tuple(result)
        self._days[day_ordinal] = intervals
        return intervals

    def _to_utc(self, day: date, minute: int) -> datetime:
        if minute == MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    # --- queries ------------------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        _require_aware(instant)
        if self.always:
            return True
        return any(s <= instant < e for s, e in self.intervals(self._local_day(instant)))

    def next_opening(self, instant: datetime) -> datetime:
        """`instant` itself when open, else the start of the next open interval."""
        _require_aware(instant)
        if self.always:
            return instant
        day = self._local_day(instant)
        for offset in range(SEARCH_DAYS):
            for start, end in self.intervals(day + offset):
                if end > instant:
                    return max(start, instant)
        raise ValueError(f"calendar {self.name!r} has no opening within {SEARCH_DAYS} days")

    def next_business_day_opening(self, instant: datetime) -> datetime:
        """The first opening on a later local date than `instant`'s ("next business day")."""
        _require_aware(instant)
        day = self._local_day(instant)
        for offset in range(1, SEARCH_DAYS):
            intervals = self.intervals(day + offset)
            if intervals:
                return intervals[0][0]
        raise ValueError(f"calendar {self.name!r} has no opening within {SEARCH_DAYS} days")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant (UTC) when `duration` of business time has passed since `start`: a
        lookup in the compiled table.

        A result that exactly uses up an interval is that interval's closing instant (a 2 h
        target from 16:00 with a 18:00 close is due at 18:00, not next morning).
        """
        _require_aware(start)
        if duration <= ZERO:
            if duration < ZERO:
                raise ValueError("business durations are not negative")
            return start
        if start.tzinfo is not UTC:  # aware + timedelta is wall-clock time in start's zone
            start = start.astimezone(UTC)
        if self.always:
            return start + duration
        value, length = micros(start), duration_micros(duration)
        found = self.table.add(value, length)
        return start + duration if found == value + length else instant_of(found)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end); zero when end <= start: a lookup in the table."""
        _require_aware(start)
        _require_aware(end)
        if end <= start:
            return ZERO
        if self.always:
            return end - start
        return timedelta(microseconds=self.table.between(micros(start), micros(end)))

    # --- the integer API the SLA core runs on (instants and durations in microseconds) ------

    def add_us(self, start: int, duration: int) -> int:
        """`add` on integer microseconds since the epoch (UTC): the core's clocks hold their
        instants as integers, so no datetime is built to find a deadline."""
        if duration <= 0:
            if duration < 0:
                raise ValueError("business durations are not negative")
            return start
        if self.always:
            return start + duration
        return self.table.add(start, duration)

    def between_us(self, start: int, end: int) -> int:
        """`between` on integer microseconds: business microseconds in [start, end)."""
        if end <= start:
            return 0
        if self.always:
            return end - start
        return self.table.between(start, end)

    # --- the day-walking originals, kept as the oracle of the table's tests ----------------

    def add_by_days(self, start: datetime, duration: timedelta) -> datetime:
        """`add`, walking the calendar day by day."""
        _require_aware(start)
        if duration <= ZERO or self.always:
            if duration < ZERO:
                raise ValueError("business durations are not negative")
            return start + duration
        remaining = duration
        cursor = start
        day = self._local_day(start)
        for offset in range(SEARCH_DAYS * 10):
            for opens, closes in self.intervals(day + offset):
                if closes <= cursor:
                    continue
                if opens > cursor:
                    cursor = opens
                available = closes - cursor
                if remaining <= available:
                    return cursor + remaining
                remaining -= available
                cursor = closes
        raise ValueError(f"calendar {self.name!r}: {duration} does not fit in the search window")

    def between_by_days(self, start: datetime, end: datetime) -> timedelta:
        """`between`, walking the calendar day by day."""
        _require_aware(start)
        _require_aware(end)
        if end <= start:
            return ZERO
        if self.always:
            return end - start
        total = ZERO
        for day in range(self._local_day(start), self._local_day(end) + 1):
            for opens, closes in self.intervals(day):
                low = opens if opens > start else start
                high = closes if closes < end else end
                if high > low:
                    total += high - low
        return total


ALWAYS = BusinessCalendar(
    name="24x7",
    zone=UTC,
    weekly=WeeklyHours.around_the_clock(),
    always=True,
    support_day=timedelta(hours=24),
)
