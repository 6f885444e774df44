"""VoIPster golden cases (voipster-support.txt). NOC: Mon-Fri 09:00-22:00 America/New_York."""

from __future__ import annotations

import pytest

from tests.unit.sla_helpers import Event, Golden, case_id, check, ev, falls_due, opened, run, types

TWO_HOURS = '"Normal” priority tickets ... are subject to a 2 hour SLA."'
CUTOFF = (
    "Tickets opened ... during regular operational hours (unless opened after 08:00pm Eastern"
    " time) will remain eligible for a 2 hour SLA"
)
NEXT_BUSINESS_DAY = (
    "Non-emergency tickets opened outside of normal operational hours ... are subject to a 2 hour"
    " SLA which starts the next business day."
)
HIGH = '"High” priority tickets ... are subject to a 1 hour SLA."'


FIRST_RESPONSE = [
    falls_due(
        "normal_ticket_in_hours_gets_two_hours",
        TWO_HOURS,
        opened("2026-11-17T10:00:00-05:00", channel="web", priority="normal"),
        now="2026-11-17T10:30:00-05:00",
        first_response="2026-11-17T17:00:00Z",
    ),
    falls_due(
        "opened_after_8pm_starts_next_business_day",
        CUTOFF,
        opened("2026-11-17T20:30:00-05:00", channel="phone", priority="normal"),
        now="2026-11-17T21:00:00-05:00",
        first_response="2026-11-18T16:00:00Z",  # Wed 11:00 ET, not Tue 22:00+
        flags={"after_cutoff": True},
    ),
    # 20:00:00 is not after 20:00, so the 2 h clock starts the same evening and runs to the
    # 22:00 close.
    falls_due(
        "opened_at_exactly_8pm_is_not_after_8pm",
        CUTOFF,
        opened("2026-11-17T20:00:00-05:00", channel="phone", priority="normal"),
        now="2026-11-17T20:30:00-05:00",
        first_response="2026-11-18T03:00:00Z",  # 22:00 ET the same evening
        flags={"after_cutoff": False},
    ),
    falls_due(
        "one_second_after_8pm_starts_next_business_day",
        CUTOFF,
        opened("2026-11-17T20:00:01-05:00", channel="phone", priority="normal"),
        now="2026-11-17T20:30:00-05:00",
        first_response="2026-11-18T16:00:00Z",
        flags={"after_cutoff": True},
    ),
    falls_due(
        "opened_just_before_8pm_keeps_same_day_hours",
        CUTOFF,
        opened("2026-11-17T19:59:00-05:00", channel="phone", priority="normal"),
        now="2026-11-17T20:00:00-05:00",
        first_response="2026-11-18T02:59:00Z",  # 21:59 ET the same evening
        flags={"after_cutoff": False},
    ),
    falls_due(
        "friday_night_ticket_starts_monday",
        NEXT_BUSINESS_DAY,
        opened("2026-11-20T21:00:00-05:00", channel="email", priority="normal"),
        now="2026-11-21T12:00:00-05:00",
        first_response="2026-11-23T16:00:00Z",  # Mon 11:00 ET
    ),
    falls_due(
        "weekend_ticket_starts_at_monday_opening",
        f"{NEXT_BUSINESS_DAY} {HIGH}",
        opened("2026-11-21T10:00:00-05:00", channel="web", priority="high"),
        now="2026-11-21T12:00:00-05:00",
        first_response="2026-11-23T15:00:00Z",  # Mon 09:00 + 1 h ET
    ),
    # Fri 2026-03-06 after 20:00 EST -> Mon 2026-03-09 09:00 EDT (13:00Z) + 2 h.
    falls_due(
        "after_cutoff_across_spring_forward",
        f"{CUTOFF} {NEXT_BUSINESS_DAY}",
        opened("2026-03-06T21:30:00-05:00", channel="web", priority="normal"),
        now="2026-03-07T00:00:00-05:00",
        first_response="2026-03-09T15:00:00Z",
    ),
    # 13 NOC hours a day.
    falls_due(
        "low_priority_48_hours_are_noc_hours",
        '"Low” priority tickets ... are subject to a 48 hour SLA."',
        opened("2026-11-16T09:00:00-05:00", channel="web", priority="low"),
        now="2026-11-16T10:00:00-05:00",
        first_response="2026-11-19T23:00:00Z",  # Thu 18:00 ET
    ),
    falls_due(
        "emergency_runs_around_the_clock_from_the_portal",
        '"Emergency” priority tickets are subject to a 15 minute SLA" and "Emergency Support will'
        ' be provided by on-call personnel after hours, and holidays."',
        opened("2026-11-21T03:00:00-05:00", channel="web", priority="emergency"),
        now="2026-11-21T03:05:00-05:00",
        first_response="2026-11-21T08:15:00Z",
    ),
    Golden(
        "spam_email_is_accepted_without_first_response_target",
        "tickets filtered as SPAM are not eligible for a 2 hour SLA.",
        (opened("2026-11-17T10:00:00-05:00", channel="email", priority="normal", spam=True),),
        now="2026-11-18T10:00:00-05:00",
        metrics={"first_response": {"status": "none", "breached_at": None}},
        flags={"spam": True},
    ),
]


@pytest.mark.parametrize("case", FIRST_RESPONSE, ids=case_id)
def test_first_response_clock(case: Golden) -> None:
    check("voipster", case)


@pytest.mark.parametrize(
    ("quote", "opening", "now", "says"),
    [
        pytest.param(
            "Emergency Tickets MUST be opened using the Support Center web portal.",
            opened("2026-11-21T03:00:00-05:00", channel="email", priority="emergency"),
            "2026-11-21T03:05:00-05:00",
            "web portal",
            id="emergency_by_email_is_refused_with_what_to_do",
        ),
        pytest.param(
            "MUST be made ... by an approved contact listed on the associated account",
            opened(
                "2026-11-17T10:00:00-05:00",
                channel="web",
                priority="normal",
                approved_contact=False,
            ),
            "2026-11-17T10:05:00-05:00",
            "approved contact",
            id="unapproved_contact_is_refused",
        ),
    ],
)
def test_a_refused_ticket_says_why_and_runs_no_clock(
    quote: str, opening: Event, now: str, says: str
) -> None:
    r = run("voipster", opening, now=now)
    assert r["accepted"] is False
    assert says in r["rejection"]
    assert all(m["status"] == "none" for m in r["metrics"].values())


HIGH_AT_TEN = opened("2026-11-17T10:00:00-05:00", channel="web", priority="high")  # due 16:00Z


def fr(result: dict) -> dict:
    return result["metrics"]["first_response"]


def test_unanswered_ticket_warns_at_75_percent_then_breaches_at_deadline() -> None:
    r = run("voipster", HIGH_AT_TEN, now="2026-11-17T12:00:00-05:00")
    assert fr(r)["status"] == "breached"
    assert fr(r)["breached_at"] == "2026-11-17T16:00:00Z"
    assert types(r, "first_response")[-2:] == [
        ("sla.warning", "2026-11-17T15:45:00Z"),
        ("sla.breached", "2026-11-17T16:00:00Z"),
    ]


def test_response_exactly_at_the_deadline_is_in_time() -> None:
    r = run(
        "voipster",
        HIGH_AT_TEN,
        ev("responded", "2026-11-17T11:00:00-05:00"),
        now="2026-11-17T12:00:00-05:00",
    )
    assert fr(r)["status"] == "met"
    assert ("sla.breached", "2026-11-17T16:00:00Z") not in types(r)


def test_breach_is_not_reported_before_now_reaches_it() -> None:
    r = run("voipster", HIGH_AT_TEN, now="2026-11-17T10:59:59-05:00")
    assert fr(r) == {**fr(r), "status": "running", "remaining_business_seconds": 1.0}
