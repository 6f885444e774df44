"""Property tests of business-time arithmetic: the invariants every SLA deadline relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import (
    BusinessCalendar,
    EasterRelative,
    FixedDate,
    NthWeekday,
    RelativeToHoliday,
    WeeklyHours,
    parse_zone,
)

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # southern-hemisphere DST, midnight transitions
    "Asia/Kolkata",
    "GMT+2",
    "UTC",
]
US_HOLIDAYS = (
    FixedDate("New Year's Day", 1, 1),
    NthWeekday("Thanksgiving Day", 11, 3, 4),
    RelativeToHoliday("Day before Thanksgiving", "Thanksgiving Day", -1),
    EasterRelative("Good Friday", -2),
    NthWeekday("Memorial Day", 5, 0, -1),
    FixedDate("Christmas Day", 12, 25),
)


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """Up to two intervals a day, each at least 15 minutes long."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    return tuple((cuts[i] * 15, cuts[i + 1] * 15) for i in range(0, len(cuts), 2))


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    days = tuple(draw(day_hours()) for _ in range(7))
    if sum(end - start for day in days for start, end in day) < 8 * 60:
        # Real support calendars open at least a working day a week.
        days = (((9 * 60, 17 * 60),),) + days[1:]
    zone = draw(st.sampled_from(ZONES))
    holidays = draw(st.sampled_from([(), US_HOLIDAYS]))
    return BusinessCalendar(
        name="generated",
        zone=parse_zone(zone),
        weekly=WeeklyHours(days),  # type: ignore[arg-type]
        holidays=holidays,
    )


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=400))
positive = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(hours=400))


def _within_hours_or_closing(cal: BusinessCalendar, instant: datetime) -> bool:
    day = instant.astimezone(cal.zone).toordinal()
    return any(
        opens <= instant <= closes
        for offset in (-1, 0, 1)
        for opens, closes in cal.intervals(day + offset)
    )


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations, durations)
def test_add_is_monotonic(cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta):
    low, high = sorted((a, b))
    assert cal.add(start, low) <= cal.add(start, high)


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations, durations)
def test_add_is_additive(cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta):
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, positive)
def test_add_never_lands_outside_hours(cal: BusinessCalendar, start: datetime, d: timedelta):
    assert _within_hours_or_closing(cal, cal.add(start, d))


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations)
def test_between_inverts_add(cal: BusinessCalendar, start: datetime, d: timedelta):
    assert cal.between(start, cal.add(start, d)) == d


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, instants, instants)
def test_between_is_additive_and_bounded(
    cal: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)
    assert timedelta(0) <= cal.between(a, c) <= c - a


@settings(max_examples=200, deadline=None)
@given(calendars(), instants)
def test_next_opening_is_open_and_nothing_opens_before_it(cal: BusinessCalendar, t: datetime):
    opening = cal.next_opening(t)
    assert opening >= t
    assert cal.is_open(opening)
    assert cal.between(t, opening) == timedelta(0)


@given(instants, durations)
def test_always_calendar_is_elapsed_time(start: datetime, d: timedelta) -> None:
    from shared.calendar import ALWAYS

    assert ALWAYS.add(start, d) == start + d
    assert ALWAYS.between(start, start + d) == d
