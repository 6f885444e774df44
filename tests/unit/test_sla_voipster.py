"""VoIPster golden cases (voipster-support.txt). NOC: Mon-Fri 09:00-22:00 America/New_York."""

from __future__ import annotations

from tests.unit.sla_helpers import ev, opened, run, types


def fr(result: dict) -> dict:
    return result["metrics"]["first_response"]


def test_normal_ticket_in_hours_gets_two_hours() -> None:
    # "Normal” priority tickets ... are subject to a 2 hour SLA."
    r = run(
        "voipster",
        opened("2026-11-17T10:00:00-05:00", channel="web", priority="normal"),
        now="2026-11-17T10:30:00-05:00",
    )
    assert r["accepted"] is True
    assert fr(r) == {**fr(r), "due_at": "2026-11-17T17:00:00Z", "status": "running"}


def test_opened_after_8pm_starts_next_business_day() -> None:
    # "Tickets opened ... during regular operational hours (unless opened after 08:00pm Eastern
    # time) will remain eligible for a 2 hour SLA"
    r = run(
        "voipster",
        opened("2026-11-17T20:30:00-05:00", channel="phone", priority="normal"),
        now="2026-11-17T21:00:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-18T16:00:00Z"  # Wed 11:00 ET, not Tue 22:00+
    assert "after_cutoff" in r["flags"]


def test_opened_at_exactly_8pm_is_not_after_8pm() -> None:
    # "unless opened after 08:00pm Eastern time": 20:00:00 is not after 20:00, so the 2 h
    # clock starts the same evening and runs to the 22:00 close.
    r = run(
        "voipster",
        opened("2026-11-17T20:00:00-05:00", channel="phone", priority="normal"),
        now="2026-11-17T20:30:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-18T03:00:00Z"  # 22:00 ET the same evening
    assert "after_cutoff" not in r["flags"]


def test_one_second_after_8pm_starts_next_business_day() -> None:
    r = run(
        "voipster",
        opened("2026-11-17T20:00:01-05:00", channel="phone", priority="normal"),
        now="2026-11-17T20:30:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-18T16:00:00Z"
    assert "after_cutoff" in r["flags"]


def test_opened_just_before_8pm_keeps_same_day_hours() -> None:
    r = run(
        "voipster",
        opened("2026-11-17T19:59:00-05:00", channel="phone", priority="normal"),
        now="2026-11-17T20:00:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-18T02:59:00Z"  # 21:59 ET the same evening


def test_friday_night_ticket_starts_monday() -> None:
    # "Non-emergency tickets opened outside of normal operational hours ... are subject to a
    # 2 hour SLA which starts the next business day."
    r = run(
        "voipster",
        opened("2026-11-20T21:00:00-05:00", channel="email", priority="normal"),
        now="2026-11-21T12:00:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-23T16:00:00Z"  # Mon 11:00 ET


def test_weekend_ticket_starts_at_monday_opening() -> None:
    r = run(
        "voipster",
        opened("2026-11-21T10:00:00-05:00", channel="web", priority="high"),
        now="2026-11-21T12:00:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-23T15:00:00Z"  # Mon 09:00 + 1 h ET


def test_after_cutoff_across_spring_forward() -> None:
    # Fri 2026-03-06 after 20:00 EST -> Mon 2026-03-09 09:00 EDT (13:00Z) + 2 h.
    r = run(
        "voipster",
        opened("2026-03-06T21:30:00-05:00", channel="web", priority="normal"),
        now="2026-03-07T00:00:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-03-09T15:00:00Z"


def test_low_priority_48_hours_are_noc_hours() -> None:
    # "Low” priority tickets ... are subject to a 48 hour SLA." 13 NOC hours a day.
    r = run(
        "voipster",
        opened("2026-11-16T09:00:00-05:00", channel="web", priority="low"),
        now="2026-11-16T10:00:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-19T23:00:00Z"  # Thu 18:00 ET


def test_emergency_runs_around_the_clock_from_the_portal() -> None:
    # "Emergency” priority tickets are subject to a 15 minute SLA" and "Emergency Support will
    # be provided by on-call personnel after hours, and holidays."
    r = run(
        "voipster",
        opened("2026-11-21T03:00:00-05:00", channel="web", priority="emergency"),
        now="2026-11-21T03:05:00-05:00",
    )
    assert fr(r)["due_at"] == "2026-11-21T08:15:00Z"


def test_emergency_by_email_is_refused_with_what_to_do() -> None:
    # "Emergency Tickets MUST be opened using the Support Center web portal."
    r = run(
        "voipster",
        opened("2026-11-21T03:00:00-05:00", channel="email", priority="emergency"),
        now="2026-11-21T03:05:00-05:00",
    )
    assert r["accepted"] is False
    assert "web portal" in r["rejection"]
    assert all(m["status"] == "none" for m in r["metrics"].values())


def test_spam_email_is_accepted_without_first_response_target() -> None:
    # "tickets filtered as SPAM are not eligible for a 2 hour SLA."
    r = run(
        "voipster",
        opened("2026-11-17T10:00:00-05:00", channel="email", priority="normal", spam=True),
        now="2026-11-18T10:00:00-05:00",
    )
    assert r["accepted"] is True
    assert fr(r)["status"] == "none"
    assert fr(r)["breached_at"] is None
    assert "spam" in r["flags"]


def test_unapproved_contact_is_refused() -> None:
    # "MUST be made ... by an approved contact listed on the associated account"
    r = run(
        "voipster",
        opened(
            "2026-11-17T10:00:00-05:00", channel="web", priority="normal", approved_contact=False
        ),
        now="2026-11-17T10:05:00-05:00",
    )
    assert r["accepted"] is False
    assert "approved contact" in r["rejection"]


def test_unanswered_ticket_warns_at_75_percent_then_breaches_at_deadline() -> None:
    r = run(
        "voipster",
        opened("2026-11-17T10:00:00-05:00", channel="web", priority="high"),
        now="2026-11-17T12:00:00-05:00",
    )
    assert fr(r)["status"] == "breached"
    assert fr(r)["breached_at"] == "2026-11-17T16:00:00Z"
    assert types(r, "first_response")[-2:] == [
        ("sla.warning", "2026-11-17T15:45:00Z"),
        ("sla.breached", "2026-11-17T16:00:00Z"),
    ]


def test_response_exactly_at_the_deadline_is_in_time() -> None:
    r = run(
        "voipster",
        opened("2026-11-17T10:00:00-05:00", channel="web", priority="high"),
        ev("responded", "2026-11-17T11:00:00-05:00"),
        now="2026-11-17T12:00:00-05:00",
    )
    assert fr(r)["status"] == "met"
    assert ("sla.breached", "2026-11-17T16:00:00Z") not in types(r)


def test_breach_is_not_reported_before_now_reaches_it() -> None:
    r = run(
        "voipster",
        opened("2026-11-17T10:00:00-05:00", channel="web", priority="high"),
        now="2026-11-17T10:59:59-05:00",
    )
    assert fr(r)["status"] == "running"
    assert fr(r)["remaining_business_seconds"] == 1.0
