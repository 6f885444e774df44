"""hosted-voice golden cases (hosted-voice-support-levels.txt).
Standard hours Mon-Fri 08:00-18:00 America/Los_Angeles with the listed holidays."""

from __future__ import annotations

from tests.unit.sla_helpers import ev, opened, run, types


def m(result: dict, metric: str) -> dict:
    return result["metrics"][metric]


def test_p2_friday_afternoon_across_spring_forward() -> None:
    # "Priority 2 ... will have eight (8) hours to respond". Fri 16:30 PST: 1.5 h, then Monday
    # after the DST change 08:00 PDT + 6.5 h = 14:30 PDT = 21:30Z (a naive offset gives 22:30Z).
    r = run(
        "hosted-voice",
        opened("2026-03-06T16:30:00-08:00", channel="email", priority="p2"),
        now="2026-03-07T00:00:00-08:00",
    )
    assert m(r, "first_response")["due_at"] == "2026-03-09T21:30:00Z"
    # "Priority 2 – 5 support days to resolve": 50 business hours -> Fri 2026-03-13 16:30 PDT.
    assert m(r, "resolution")["due_at"] == "2026-03-13T23:30:00Z"


def test_friday_before_memorial_day_skips_the_holiday_monday() -> None:
    # Holidays include "Memorial Day" (last Monday of May: 2026-05-25).
    r = run(
        "hosted-voice",
        opened("2026-05-22T15:00:00-07:00", channel="email", priority="p2"),
        now="2026-05-22T16:00:00-07:00",
    )
    assert m(r, "first_response")["due_at"] == "2026-05-26T20:00:00Z"  # Tue 13:00 PDT


def test_thanksgiving_week_skips_the_day_before_and_thanksgiving() -> None:
    # "Day before Thanksgiving, Thanksgiving Day" are Off Hours. P3: 24 business hours.
    # Tue 11-24 10 h, Wed + Thu holidays, Fri 11-27 10 h, Mon 11-30 4 h -> 12:00 PST.
    r = run(
        "hosted-voice",
        opened("2026-11-24T08:00:00-08:00", channel="email", priority="p3"),
        now="2026-11-24T09:00:00-08:00",
    )
    assert m(r, "first_response")["due_at"] == "2026-11-30T20:00:00Z"


def test_good_friday_is_off_hours() -> None:
    # Easter 2026 is April 5, so Good Friday is April 3. P2 opened Thu 17:00: 1 h Thursday,
    # Friday closed, Monday 08:00 + 7 h = 15:00 PDT.
    r = run(
        "hosted-voice",
        opened("2026-04-02T17:00:00-07:00", channel="email", priority="p2"),
        now="2026-04-02T17:30:00-07:00",
    )
    assert m(r, "first_response")["due_at"] == "2026-04-06T22:00:00Z"


def test_p1_runs_24x7_and_is_flagged_for_off_hours_review() -> None:
    # "Priority 1 ... will have four (4) hours to respond"; "Standard Support is available
    # during Off Hours as needed for Priority 1 events"; off-hours P1 is reviewed for the
    # "$100 per hour, with a two (2) hour minimum" charge.
    r = run(
        "hosted-voice",
        opened("2026-11-21T23:00:00-08:00", channel="phone", priority="p1"),
        now="2026-11-22T00:00:00-08:00",
    )
    assert m(r, "first_response")["due_at"] == "2026-11-22T11:00:00Z"
    assert m(r, "resolution")["due_at"] == "2026-11-24T07:00:00Z"  # "Priority 1 – 2 days"
    assert "off_hours_p1_billable_review" in r["flags"]


def test_p4_has_no_targets() -> None:
    # "Priority 4 ... will respond when commercially feasible"
    r = run(
        "hosted-voice",
        opened("2026-11-17T09:00:00-08:00", channel="email", priority="p4"),
        now="2026-12-31T00:00:00Z",
    )
    assert {k: v["status"] for k, v in r["metrics"].items()} == dict.fromkeys(r["metrics"], "none")
    assert not any(e["type"] == "sla.breached" for e in r["events"])


def test_rfo_clock_starts_at_resolution_and_is_met_by_delivery() -> None:
    # "Reason for Outage (“RFO”) ... within 48 hours for any Priority 1 event"
    r = run(
        "hosted-voice",
        opened("2026-11-17T09:00:00-08:00", channel="phone", priority="p1"),
        ev("responded", "2026-11-17T09:30:00-08:00"),
        ev("resolved", "2026-11-17T12:00:00-08:00"),
        now="2026-11-18T00:00:00-08:00",
    )
    assert m(r, "rfo") == {**m(r, "rfo"), "status": "running", "due_at": "2026-11-19T20:00:00Z"}
    r = run(
        "hosted-voice",
        opened("2026-11-17T09:00:00-08:00", channel="phone", priority="p1"),
        ev("resolved", "2026-11-17T12:00:00-08:00"),
        ev("rfo_delivered", "2026-11-19T11:00:00-08:00"),
        now="2026-11-25T00:00:00-08:00",
    )
    assert m(r, "rfo")["status"] == "met"
    # A resolution is also a response: first response met at resolution.
    assert m(r, "first_response")["status"] == "met"


def test_p2_rfo_has_96_hours() -> None:
    r = run(
        "hosted-voice",
        opened("2026-11-16T09:00:00-08:00", channel="email", priority="p2"),
        ev("resolved", "2026-11-16T12:00:00-08:00"),
        now="2026-11-21T00:00:00Z",
    )
    assert m(r, "rfo")["status"] == "breached"
    assert m(r, "rfo")["breached_at"] == "2026-11-20T20:00:00Z"


def test_workaround_meets_resolution() -> None:
    # "deliver a resolution, or ... a Work-Around"
    r = run(
        "hosted-voice",
        opened("2026-11-16T09:00:00-08:00", channel="email", priority="p2"),
        ev("responded", "2026-11-16T10:00:00-08:00"),
        ev("workaround_provided", "2026-11-17T10:00:00-08:00"),
        now="2026-12-31T00:00:00Z",
    )
    assert m(r, "resolution")["status"] == "met"
    assert m(r, "resolution")["met_at"] == "2026-11-17T18:00:00Z"


def test_reopened_ticket_resumes_its_resolution_clock() -> None:
    # P2 resolution is 50 business hours; Monday used 10, reopened Wed 08:00 with 40 left:
    # Wed 10, Thu 10, Fri 10, Mon 10 -> Mon 2026-12-07 18:00 PST.
    r = run(
        "hosted-voice",
        opened("2026-11-30T08:00:00-08:00", channel="email", priority="p2"),
        ev("responded", "2026-11-30T09:00:00-08:00"),
        ev("resolved", "2026-11-30T18:00:00-08:00"),
        ev("reopened", "2026-12-02T08:00:00-08:00"),
        now="2026-12-02T09:00:00-08:00",
    )
    assert m(r, "resolution")["status"] == "running"
    assert m(r, "resolution")["due_at"] == "2026-12-08T02:00:00Z"
    assert ("sla.clock_resumed", "2026-12-02T16:00:00Z") in types(r, "resolution")


def test_no_pause_rule_means_customer_side_time_counts() -> None:
    r = run(
        "hosted-voice",
        opened("2026-11-30T08:00:00-08:00", channel="email", priority="p2"),
        ev("awaiting_customer", "2026-11-30T09:00:00-08:00"),
        now="2026-11-30T10:00:00-08:00",
    )
    assert m(r, "resolution")["status"] == "running"
