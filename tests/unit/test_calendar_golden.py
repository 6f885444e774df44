"""Calendar cases people get wrong: DST gaps and overlaps, holiday rules, fixed offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.calendar import (
    BusinessCalendar,
    EasterRelative,
    FixedDate,
    NthWeekday,
    RelativeToHoliday,
    WeeklyHours,
    holidays_in_year,
    parse_zone,
)
from shared.calendar.holidays import easter_sunday


def night_shift(zone: str) -> BusinessCalendar:
    """Open 01:00-04:00 every day: straddles the 02:00 DST changes of US zones."""
    day = ((60, 240),)
    return BusinessCalendar("night", parse_zone(zone), WeeklyHours((day,) * 7))


def test_spring_forward_gap_day_has_one_hour_less() -> None:
    cal = night_shift("America/New_York")
    ((opens, closes),) = cal.intervals(date(2026, 3, 8).toordinal())
    assert closes - opens == timedelta(hours=2)  # 02:00-03:00 local does not exist
    # 2 h used on the 8th; the remaining 30 min from Monday's 01:00 EDT (05:00Z).
    later = cal.add(opens, timedelta(hours=2, minutes=30))
    assert later == datetime(2026, 3, 9, 5, 30, tzinfo=UTC)


def test_fall_back_day_has_one_hour_more() -> None:
    cal = night_shift("America/New_York")
    ((opens, closes),) = cal.intervals(date(2026, 11, 1).toordinal())
    assert closes - opens == timedelta(hours=4)  # 01:00-02:00 local happens twice


def test_fixed_offset_parsing_reads_like_people_do() -> None:
    assert parse_zone("GMT+2").utcoffset(None) == timedelta(hours=2)
    assert parse_zone("UTC-05:30").utcoffset(None) == timedelta(hours=-5, minutes=-30)
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_us_holiday_rules_for_2026() -> None:
    rules = (
        RelativeToHoliday("Day before Thanksgiving", "Thanksgiving Day", -1),
        NthWeekday("Thanksgiving Day", 11, 3, 4),
        NthWeekday("Presidents Day", 2, 0, 3),
        NthWeekday("Memorial Day", 5, 0, -1),
        NthWeekday("Labor Day", 9, 0, 1),
        EasterRelative("Good Friday", -2),
        FixedDate("Christmas Eve", 12, 24),
    )
    assert holidays_in_year(rules, 2026) == {
        "Thanksgiving Day": date(2026, 11, 26),
        "Day before Thanksgiving": date(2026, 11, 25),
        "Presidents Day": date(2026, 2, 16),
        "Memorial Day": date(2026, 5, 25),
        "Labor Day": date(2026, 9, 7),
        "Good Friday": date(2026, 4, 3),
        "Christmas Eve": date(2026, 12, 24),
    }


def test_circular_holiday_rules_are_refused() -> None:
    rules = (RelativeToHoliday("A", "B", 1), RelativeToHoliday("B", "A", 1))
    with pytest.raises(ValueError, match="circular"):
        holidays_in_year(rules, 2026)


def test_naive_instants_are_refused() -> None:
    cal = night_shift("UTC")
    with pytest.raises(ValueError, match="naive"):
        cal.add(datetime(2026, 1, 1), timedelta(hours=1))
