"""hosted-voice golden cases (hosted-voice-support-levels.txt).
Standard hours Mon-Fri 08:00-18:00 America/Los_Angeles with the listed holidays."""

from __future__ import annotations

import pytest

from tests.unit.sla_helpers import Golden, case_id, check, ev, falls_due, opened, run, types

P2_RESPONSE = '"Priority 2 ... will have eight (8) hours to respond"'
HOLIDAYS = (
    "All other hours and holidays (defined as New Year’s Day, Presidents Day, Good Friday,"
    " Memorial Day, Independence Day, Labor Day, Day before Thanksgiving, Thanksgiving Day,"
    " Christmas Eve, and Christmas Day), are considered Off Hours."
)
RFO = (
    "shall attempt to provide a Reason for Outage (“RFO”) to Customer within 48 hours for any"
    " Priority 1 event and for any Priority 2 or 3 events, within 96 hours."
)
WORK_AROUND = (
    "deliver a resolution, or in case an immediate resolution is not possible, then a Work-Around"
)
P2_RESOLUTION = '"Priority 2 – 5 support days to resolve"'

RESPONSE_AND_RESOLUTION_DUE = [
    # Fri 16:30 PST: 1.5 h, then Monday after the DST change 08:00 PDT + 6.5 h = 14:30 PDT =
    # 21:30Z (a naive offset gives 22:30Z). Resolution: 50 business hours -> Fri 2026-03-13
    # 16:30 PDT.
    falls_due(
        "p2_friday_afternoon_across_spring_forward",
        f"{P2_RESPONSE}; {P2_RESOLUTION}",
        opened("2026-03-06T16:30:00-08:00", channel="email", priority="p2"),
        now="2026-03-07T00:00:00-08:00",
        first_response="2026-03-09T21:30:00Z",
        resolution="2026-03-13T23:30:00Z",
    ),
    # Memorial Day is the last Monday of May: 2026-05-25.
    falls_due(
        "friday_before_memorial_day_skips_the_holiday_monday",
        f"{P2_RESPONSE}; {HOLIDAYS}",
        opened("2026-05-22T15:00:00-07:00", channel="email", priority="p2"),
        now="2026-05-22T16:00:00-07:00",
        first_response="2026-05-26T20:00:00Z",  # Tue 13:00 PDT
    ),
    # P3: 24 business hours. Tue 11-24 10 h, Wed + Thu holidays, Fri 11-27 10 h, Mon 11-30 4 h
    # -> 12:00 PST.
    falls_due(
        "thanksgiving_week_skips_the_day_before_and_thanksgiving",
        f'"Priority 3 ... will have twenty-four (24) hours to respond"; {HOLIDAYS}',
        opened("2026-11-24T08:00:00-08:00", channel="email", priority="p3"),
        now="2026-11-24T09:00:00-08:00",
        first_response="2026-11-30T20:00:00Z",
    ),
    # Easter 2026 is April 5, so Good Friday is April 3. P2 opened Thu 17:00: 1 h Thursday,
    # Friday closed, Monday 08:00 + 7 h = 15:00 PDT.
    falls_due(
        "good_friday_is_off_hours",
        f"{P2_RESPONSE}; {HOLIDAYS}",
        opened("2026-04-02T17:00:00-07:00", channel="email", priority="p2"),
        now="2026-04-02T17:30:00-07:00",
        first_response="2026-04-06T22:00:00Z",
    ),
    # Off-hours P1 is reviewed for the "$100 per hour, with a two (2) hour minimum" charge.
    falls_due(
        "p1_runs_24x7_and_is_flagged_for_off_hours_review",
        '"Priority 1 ... will have four (4) hours to respond"; "Standard Support is available'
        ' during Off Hours as needed for Priority 1 events"; "Priority 1 – 2 days to resolve"',
        opened("2026-11-21T23:00:00-08:00", channel="phone", priority="p1"),
        now="2026-11-22T00:00:00-08:00",
        first_response="2026-11-22T11:00:00Z",
        resolution="2026-11-24T07:00:00Z",
        flags={"off_hours_p1_billable_review": True},
    ),
]


@pytest.mark.parametrize("case", RESPONSE_AND_RESOLUTION_DUE, ids=case_id)
def test_response_and_resolution_fall_due_in_standard_hours(case: Golden) -> None:
    check("hosted-voice", case)


def test_p4_has_no_targets() -> None:
    # "Priority 4 ... will respond when commercially feasible"
    r = run(
        "hosted-voice",
        opened("2026-11-17T09:00:00-08:00", channel="email", priority="p4"),
        now="2026-12-31T00:00:00Z",
    )
    assert {k: v["status"] for k, v in r["metrics"].items()} == dict.fromkeys(r["metrics"], "none")
    assert not any(e["type"] == "sla.breached" for e in r["events"])


P1_AT_NINE = opened("2026-11-17T09:00:00-08:00", channel="phone", priority="p1")
P2_MONDAY = opened("2026-11-16T09:00:00-08:00", channel="email", priority="p2")

RFO_AND_RESOLUTION = [
    falls_due(
        "rfo_clock_starts_at_resolution",
        RFO,
        P1_AT_NINE,
        ev("responded", "2026-11-17T09:30:00-08:00"),
        ev("resolved", "2026-11-17T12:00:00-08:00"),
        now="2026-11-18T00:00:00-08:00",
        rfo="2026-11-19T20:00:00Z",
    ),
    # A resolution is also a response: first response met at resolution.
    Golden(
        "rfo_clock_is_met_by_delivery",
        RFO,
        (
            P1_AT_NINE,
            ev("resolved", "2026-11-17T12:00:00-08:00"),
            ev("rfo_delivered", "2026-11-19T11:00:00-08:00"),
        ),
        now="2026-11-25T00:00:00-08:00",
        metrics={"rfo": {"status": "met"}, "first_response": {"status": "met"}},
    ),
    Golden(
        "p2_rfo_has_96_hours",
        RFO,
        (P2_MONDAY, ev("resolved", "2026-11-16T12:00:00-08:00")),
        now="2026-11-21T00:00:00Z",
        metrics={"rfo": {"status": "breached", "breached_at": "2026-11-20T20:00:00Z"}},
    ),
    Golden(
        "workaround_meets_resolution",
        WORK_AROUND,
        (
            P2_MONDAY,
            ev("responded", "2026-11-16T10:00:00-08:00"),
            ev("workaround_provided", "2026-11-17T10:00:00-08:00"),
        ),
        now="2026-12-31T00:00:00Z",
        metrics={"resolution": {"status": "met", "met_at": "2026-11-17T18:00:00Z"}},
    ),
    Golden(
        "no_pause_rule_means_customer_side_time_counts",
        P2_RESOLUTION,
        (
            opened("2026-11-30T08:00:00-08:00", channel="email", priority="p2"),
            ev("awaiting_customer", "2026-11-30T09:00:00-08:00"),
        ),
        now="2026-11-30T10:00:00-08:00",
        metrics={"resolution": {"status": "running"}},
    ),
]


@pytest.mark.parametrize("case", RFO_AND_RESOLUTION, ids=case_id)
def test_rfo_and_resolution_clocks(case: Golden) -> None:
    check("hosted-voice", case)


def test_reopened_ticket_resumes_its_resolution_clock() -> None:
    # P2 resolution is 50 business hours; Monday used 10, reopened Wed 08:00 with 40 left:
    # Wed 10, Thu 10, Fri 10, Mon 10 -> Mon 2026-12-07 18:00 PST.
    r = check(
        "hosted-voice",
        falls_due(
            "reopened",
            P2_RESOLUTION,
            opened("2026-11-30T08:00:00-08:00", channel="email", priority="p2"),
            ev("responded", "2026-11-30T09:00:00-08:00"),
            ev("resolved", "2026-11-30T18:00:00-08:00"),
            ev("reopened", "2026-12-02T08:00:00-08:00"),
            now="2026-12-02T09:00:00-08:00",
            resolution="2026-12-08T02:00:00Z",
        ),
    )
    assert ("sla.clock_resumed", "2026-12-02T16:00:00Z") in types(r, "resolution")
