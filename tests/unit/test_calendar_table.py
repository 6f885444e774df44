"""The compiled calendar table against the day-walking arithmetic it replaced (kept as the
oracle): the same due instant and the same business time, to the microsecond, over random
calendars in DST zones with holidays, including queries that grow the table both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import BusinessCalendar, WeeklyHours, parse_zone
from shared.calendar.table import MAX_YEARS, instant_of, micros
from tests.unit.test_calendar_properties import calendars, durations, instants, positive

long_durations = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=200))


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, st.one_of(positive, long_durations))
def test_add_equals_the_day_walk(cal: BusinessCalendar, start: datetime, d: timedelta) -> None:
    assert cal.add(start, d) == cal.add_by_days(start, d)


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, durations)
def test_between_equals_the_day_walk(cal: BusinessCalendar, start: datetime, d: timedelta) -> None:
    end = start + d * 3
    assert cal.between(start, end) == cal.between_by_days(start, end)


@settings(max_examples=100, deadline=None)
@given(calendars(), st.lists(st.tuples(instants, positive), min_size=2, max_size=6))
def test_queries_in_any_order_agree_as_the_table_grows(
    cal: BusinessCalendar, queries: list[tuple[datetime, timedelta]]
) -> None:
    """Later queries reach before and after what earlier ones built: the rebuilt table
    answers as the first one did."""
    for start, d in queries:
        assert cal.add(start, d) == cal.add_by_days(start, d)
        assert cal.between(start, start + d) == cal.between_by_days(start, start + d)


def test_instants_round_trip_as_integer_microseconds() -> None:
    moment = datetime(2026, 3, 8, 7, 0, 0, 123456, tzinfo=UTC)
    assert instant_of(micros(moment)) == moment
    assert micros(datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)) == 1


def test_a_query_past_the_bound_is_refused() -> None:
    cal = BusinessCalendar(
        "one hour a week",
        parse_zone("Europe/London"),
        WeeklyHours((((9 * 60, 10 * 60),),) + ((),) * 6),  # type: ignore[arg-type]
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    weeks = 52 * MAX_YEARS + 60
    try:
        cal.add(start, timedelta(hours=weeks))
    except ValueError as exc:
        assert "years" in str(exc)
    else:
        raise AssertionError("a target past the table's bound was answered")
