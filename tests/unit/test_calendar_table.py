"""The compiled calendar table against the day-walking arithmetic it replaced (kept as the
oracle): the same due instant and the same business time, to the microsecond, over random
calendars in DST zones with holidays, including queries that grow the table both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.calendar import BusinessCalendar, WeeklyHours, parse_zone
from shared.calendar.table import MAX_YEARS, duration_micros, instant_of, micros
from shared.sla.clock import scaled
from tests.unit.test_calendar_properties import (
    US_HOLIDAYS,
    calendars,
    durations,
    instants,
    positive,
)

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


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, st.one_of(positive, long_durations))
def test_the_integer_api_answers_as_the_datetime_one(
    cal: BusinessCalendar, start: datetime, d: timedelta
) -> None:
    """The SLA core asks in integer microseconds (`add_us`, `between_us`): the same answers,
    to the microsecond, as the datetime API and the day walk."""
    begin, length = micros(start), duration_micros(d)
    due = cal.add_us(begin, length)
    assert instant_of(due) == cal.add(start, d) == cal.add_by_days(start, d)
    assert cal.between_us(begin, due) == duration_micros(cal.between(start, instant_of(due)))
    assert cal.between_us(due, begin) == 0
    assert cal.add_us(begin, 0) == begin


@given(st.integers(min_value=-(10**16), max_value=2 * 10**17))
def test_integer_instants_round_trip_exactly(value: int) -> None:
    assert micros(instant_of(value)) == value
    assert instant_of(value).tzinfo is UTC


@given(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
)
@example(timedelta(microseconds=1), 0.5)  # exact halves: to the even microsecond
@example(timedelta(microseconds=3), 0.5)
@example(timedelta(microseconds=5), 0.25)
def test_a_scaled_duration_rounds_as_timedelta_does(d: timedelta, fraction: float) -> None:
    """The warning point: integer `scaled` gives the microsecond `timedelta * float` gives
    (round half to even), so moving the core to integers moved no warning."""
    assert scaled(duration_micros(d), fraction) == duration_micros(d * fraction)


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


LONDON_WEEKDAYS = BusinessCalendar(
    "London weekdays 9-17",
    parse_zone("Europe/London"),
    WeeklyHours((((9 * 60, 17 * 60),),) * 5 + ((), ())),  # type: ignore[arg-type]
)


def test_a_table_grown_over_decades_still_answers_past_its_end() -> None:
    """Old history once read (a replay, a compliance report) must not make today's
    deadlines fail: the table is built anew around them when it would grow too long."""
    cal = BusinessCalendar("fresh", LONDON_WEEKDAYS.zone, LONDON_WEEKDAYS.weekly)
    old, late = datetime(2005, 1, 3, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert cal.between(old, datetime(2025, 6, 2, tzinfo=UTC)) == cal.between_by_days(
        old, datetime(2025, 6, 2, tzinfo=UTC)
    )
    assert cal.add(late, timedelta(hours=2)) == cal.add_by_days(late, timedelta(hours=2))
    cal.add(datetime(1970, 1, 5, 10, tzinfo=UTC), timedelta(hours=1))
    assert cal.add(late, timedelta(hours=30)) == cal.add_by_days(late, timedelta(hours=30))


def test_a_start_in_a_dst_zone_is_added_as_elapsed_time() -> None:
    """Open around the clock but not 24x7 (it has holidays): 8 h from 22:00 London time the
    night the clocks go forward is 06:00 UTC, not 05:00 (wall-clock arithmetic)."""
    london = parse_zone("Europe/London")
    cal = BusinessCalendar(
        "open all hours, with holidays",
        london,
        WeeklyHours.around_the_clock(),
        holidays=US_HOLIDAYS,
    )
    start = datetime(2026, 3, 28, 22, tzinfo=london)

    due = cal.add(start, timedelta(hours=8))

    assert due == datetime(2026, 3, 29, 6, tzinfo=UTC) == cal.add_by_days(start, timedelta(hours=8))
