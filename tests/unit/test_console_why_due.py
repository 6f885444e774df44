"""The console's "why is it due then?" line: hand-derived lines on the real policies' calendars,
and properties: the walk always lands on `BusinessCalendar.add`, piece by piece in open time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.console.domain.why_due import (
    Gap,
    Piece,
    explain_due,
    instant_label,
    spell_duration,
    walk_due,
)
from shared.calendar import BusinessCalendar, parse_zone
from shared.policy import Policy, load_policies

POLICIES = load_policies()
HOSTED_VOICE = POLICIES["hosted-voice"]
VOIPSTER = POLICIES["voipster"]
KOLMISOFT = POLICIES["kolmisoft-mor"]
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
GMT2 = parse_zone("GMT+2")


def target_seconds(policy: Policy, metric: str, priority: str, plan: str | None = None) -> float:
    target = policy.target(metric, priority, plan)
    assert target is not None
    return target.duration.total_seconds()


def test_voipster_two_hours_from_friday_evening() -> None:
    start = datetime(2026, 2, 13, 21, 30, tzinfo=NEW_YORK)
    seconds = target_seconds(VOIPSTER, "first_response", "normal")  # 2 h in NOC hours
    line = explain_due(start, seconds, VOIPSTER.calendar("noc"), "America/New_York")
    assert line == (
        "2 h of business time from Fri 21:30 EST: 30 min Friday from 21:30, cut-off, "
        "1 h 30 min Monday from 09:00 → Mon 10:30 EST"
    )
    due = VOIPSTER.calendar("noc").add(start, timedelta(seconds=seconds))
    assert due == datetime(2026, 2, 16, 15, 30, tzinfo=UTC)


def test_voipster_across_the_spring_forward_weekend() -> None:
    # 8 March 2026: New York moves from EST (UTC-5) to EDT (UTC-4); Monday 09:00 is 13:00Z.
    start = datetime(2026, 3, 6, 21, 30, tzinfo=NEW_YORK)
    noc = VOIPSTER.calendar("noc")
    line = explain_due(start, 7200, noc, "America/New_York")
    assert line == (
        "2 h of business time from Fri 21:30 EST: 30 min Friday from 21:30, cut-off, "
        "1 h 30 min Monday from 09:00 → Mon 10:30 EDT"
    )
    walk = walk_due(start, timedelta(hours=2), noc)
    assert (
        walk.due == noc.add(start, timedelta(hours=2)) == datetime(2026, 3, 9, 14, 30, tzinfo=UTC)
    )


def test_voipster_viewer_in_another_zone_sees_both() -> None:
    start = datetime(2026, 2, 13, 21, 30, tzinfo=NEW_YORK)
    line = explain_due(start, 3600, VOIPSTER.calendar("noc"), "America/Los_Angeles")
    assert line == (
        "1 h of business time from Fri 21:30 EST (Fri 18:30 PST): 30 min Friday from 21:30, "
        "cut-off, 30 min Monday from 09:00 → Mon 09:30 EST (Mon 06:30 PST)"
    )


def test_hosted_voice_skips_presidents_day_by_name() -> None:
    start = datetime(2026, 2, 13, 17, 30, tzinfo=LOS_ANGELES)
    seconds = target_seconds(HOSTED_VOICE, "first_response", "p2")  # 8 h, standard hours
    line = explain_due(start, seconds, HOSTED_VOICE.calendar("standard"), "America/Los_Angeles")
    assert line == (
        "8 h of business time from Fri 17:30 PST: 30 min Friday from 17:30, cut-off, "
        "skipping Mon 16 Feb (Presidents Day), 7 h 30 min Tuesday from 08:00 → Tue 15:30 PST"
    )


def test_hosted_voice_thanksgiving_week_gives_dates() -> None:
    # 1 h Tue, Wed and Thu are holidays, 10 h Fri, weekend, 10 h Mon, 3 h Tue: 24 h.
    start = datetime(2026, 11, 24, 17, 0, tzinfo=LOS_ANGELES)
    seconds = target_seconds(HOSTED_VOICE, "first_response", "p3")
    line = explain_due(start, seconds, HOSTED_VOICE.calendar("standard"), "America/Los_Angeles")
    assert line == (
        "24 h of business time from Tue 24 Nov 17:00 PST: 1 h Tue 24 Nov from 17:00, cut-off, "
        "skipping Wed 25 Nov (Day before Thanksgiving) and Thu 26 Nov (Thanksgiving Day), "
        "10 h Fri 27 Nov from 08:00, cut-off, 10 h Mon 30 Nov from 08:00, cut-off, "
        "3 h Tue 1 Dec from 08:00 → Tue 1 Dec 11:00 PST"
    )


def test_hosted_voice_whole_days_in_a_row_read_as_one_phrase() -> None:
    seconds = target_seconds(HOSTED_VOICE, "resolution", "p2")  # 5 support days of 10 h
    start = datetime(2026, 3, 2, 8, 0, tzinfo=LOS_ANGELES)
    line = explain_due(start, seconds, HOSTED_VOICE.calendar("standard"), "America/Los_Angeles")
    assert line == (
        "50 h of business time from Mon 08:00 PST: "
        "10 h from 08:00 on each of 5 days, Monday to Friday → Fri 18:00 PST"
    )


def test_hosted_voice_fifteen_support_days_over_thanksgiving() -> None:
    # 1 h Tue 24 Nov; Wed and Thu holidays; 14 whole days (Fri 27 Nov to Wed 16 Dec, 140 h,
    # weekends between them); 9 h Thu 17 Dec: 150 h.
    seconds = target_seconds(HOSTED_VOICE, "resolution", "p3")
    start = datetime(2026, 11, 24, 17, 0, tzinfo=LOS_ANGELES)
    standard = HOSTED_VOICE.calendar("standard")
    line = explain_due(start, seconds, standard, "America/Los_Angeles")
    assert line == (
        "150 h of business time from Tue 24 Nov 17:00 PST: 1 h Tue 24 Nov from 17:00, cut-off, "
        "skipping Wed 25 Nov (Day before Thanksgiving) and Thu 26 Nov (Thanksgiving Day), "
        "10 h from 08:00 on each of 14 days, Fri 27 Nov to Wed 16 Dec, cut-off, "
        "9 h Thu 17 Dec from 08:00 → Thu 17 Dec 17:00 PST"
    )
    due = standard.add(start, timedelta(seconds=seconds))
    assert due == datetime(2026, 12, 18, 1, 0, tzinfo=UTC)


def test_hosted_voice_p1_runs_around_the_clock() -> None:
    start = datetime(2026, 2, 13, 17, 30, tzinfo=LOS_ANGELES)
    target = HOSTED_VOICE.target("first_response", "p1", None)
    assert target is not None
    line = explain_due(start, target.duration, target.calendar, "America/Los_Angeles")
    assert line == "4 h around the clock (24x7) from Fri 17:30 PST → Fri 21:30 PST"


def test_kolmisoft_fixed_offset_start_after_hours() -> None:
    start = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # Fri 19:30 GMT+2, after 18:00
    seconds = target_seconds(KOLMISOFT, "first_response", "high", "gold")  # 3 h
    line = explain_due(start, seconds, KOLMISOFT.calendar("working"), "UTC")
    assert line == (
        "3 h of business time from Fri 19:30 GMT+2 (Fri 17:30 UTC): closed, "
        "3 h Monday from 09:00 → Mon 12:00 GMT+2 (Mon 10:00 UTC)"
    )


def test_kolmisoft_fixed_offset_ignores_the_viewers_dst() -> None:
    # GMT+2 has no DST; a Helsinki viewer moves to EEST (UTC+3) on 29 March 2026.
    start = datetime(2026, 3, 27, 16, 0, tzinfo=GMT2)
    seconds = target_seconds(KOLMISOFT, "first_response", "low", "bronze")  # 12 h
    working = KOLMISOFT.calendar("working")
    line = explain_due(start, seconds, working, "Europe/Helsinki")
    assert line == (
        "12 h of business time from Fri 16:00 GMT+2 (Fri 16:00 EET): 2 h Friday from 16:00, "
        "cut-off, 9 h Monday from 09:00, cut-off, 1 h Tuesday from 09:00 "
        "→ Tue 10:00 GMT+2 (Tue 11:00 EEST)"
    )
    assert working.add(start, timedelta(hours=12)) == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)


def test_kolmisoft_same_zone_viewer_reads_one_zone() -> None:
    start = datetime(2026, 12, 7, 10, 0, tzinfo=GMT2)
    line = explain_due(start, 3600, KOLMISOFT.calendar("working"), "GMT+2")
    assert (
        line == "1 h of business time from Mon 10:00 GMT+2: 1 h Monday from 10:00 → Mon 11:00 GMT+2"
    )


def test_zero_target_and_seconds() -> None:
    noc = VOIPSTER.calendar("noc")
    start = datetime(2026, 2, 13, 21, 30, 15, tzinfo=NEW_YORK)
    assert explain_due(start, 0, noc, NEW_YORK) == (
        "0 min of business time from Fri 21:30:15 EST → Fri 21:30:15 EST"
    )
    assert explain_due(start, 90, noc, NEW_YORK) == (
        "1 min 30 s of business time from Fri 21:30:15 EST: 1 min 30 s Friday from 21:30:15 "
        "→ Fri 21:31:45 EST"
    )


def test_negative_targets_and_naive_starts_are_refused() -> None:
    noc = VOIPSTER.calendar("noc")
    with pytest.raises(ValueError, match="not negative"):
        explain_due(datetime(2026, 2, 13, 12, tzinfo=UTC), -1, noc, "UTC")
    with pytest.raises(ValueError, match="naive"):
        explain_due(datetime(2026, 2, 13, 12), 60, noc, "UTC")


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        (timedelta(0), "0 min"),
        (timedelta(minutes=30), "30 min"),
        (timedelta(hours=1, minutes=30), "1 h 30 min"),
        (timedelta(hours=150), "150 h"),
        (timedelta(hours=2, seconds=5), "2 h 5 s"),
        (timedelta(microseconds=10), "under 1 s"),
    ],
)
def test_spell_duration(duration: timedelta, words: str) -> None:
    assert spell_duration(duration) == words


# --- properties ------------------------------------------------------------------------------

CALENDARS: list[BusinessCalendar] = sorted(
    {id(cal): cal for policy in POLICIES.values() for cal in policy.calendars.values()}.values(),
    key=lambda cal: cal.name,
)
VIEWERS = ["America/New_York", "America/Los_Angeles", "Europe/Helsinki", "GMT+2", "UTC"]


def check_walk(start: datetime, seconds: int, calendar: BusinessCalendar, viewer: str) -> None:
    target = timedelta(seconds=seconds)
    walk = walk_due(start, target, calendar)
    expected = calendar.add(start, target)
    assert walk.due == expected
    assert sum((piece.duration for piece in walk.pieces), timedelta(0)) == target
    cursor = start
    for step in walk.steps:
        assert step.start == cursor and step.end > step.start
        if isinstance(step, Piece):
            assert calendar.between(step.start, step.end) == step.duration
        else:
            assert isinstance(step, Gap)
            assert calendar.between(step.start, step.end) == timedelta(0)
        cursor = step.end
    assert cursor == expected
    line = explain_due(start, seconds, calendar, viewer)
    zone = parse_zone(viewer) if calendar.always else calendar.zone
    tail = line.rsplit("→ ", 1)[1]
    assert tail.startswith(
        (
            instant_label(expected, zone, with_date=False),
            instant_label(expected, zone, with_date=True),
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    seconds=st.integers(min_value=0, max_value=200 * 3600),
    calendar=st.sampled_from(CALENDARS),
    viewer=st.sampled_from(VIEWERS),
)
def test_walk_lands_on_calendar_add(
    start: datetime, seconds: int, calendar: BusinessCalendar, viewer: str
) -> None:
    check_walk(start, seconds, calendar, viewer)


DST_WEEKS = [
    (datetime(2026, 3, 5), datetime(2026, 3, 10)),  # US spring forward, 8 March
    (datetime(2026, 10, 29), datetime(2026, 11, 3)),  # US fall back, 1 November
    (datetime(2026, 3, 27), datetime(2026, 3, 31)),  # EU spring forward, 29 March
]


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    seconds=st.integers(min_value=1, max_value=30 * 3600),
    calendar=st.sampled_from(CALENDARS),
    viewer=st.sampled_from(VIEWERS),
)
def test_walk_across_dst_changes(
    data: st.DataObject, seconds: int, calendar: BusinessCalendar, viewer: str
) -> None:
    low, high = data.draw(st.sampled_from(DST_WEEKS))
    start = data.draw(st.datetimes(min_value=low, max_value=high, timezones=st.just(UTC)))
    check_walk(start, seconds, calendar, viewer)
