"""Kolmisoft MOR (kolmisoft-mor-support.txt) and VOICE1 (voice1-emergency-support.txt)."""

from __future__ import annotations

from tests.unit.sla_helpers import ev, opened, run


def fr(result: dict) -> dict:
    return result["metrics"]["first_response"]


def test_gold_reaction_time_is_three_working_hours_at_gmt_plus_2() -> None:
    # "0-3h | High | GOLD"; "Working hours ... Monday to Friday from 9.00 - 18.00 GMT+2."
    r = run(
        "kolmisoft-mor",
        opened("2026-11-16T17:00:00+02:00", channel="web", priority="high", plan="gold"),
        now="2026-11-16T17:30:00+02:00",
    )
    assert fr(r)["due_at"] == "2026-11-17T09:00:00Z"  # Tue 11:00 GMT+2


def test_fixed_offset_ignores_european_dst() -> None:
    # GMT+2 is a fixed offset: in July (when Europe/Helsinki would be +3) 09:00 is still 07:00Z.
    r = run(
        "kolmisoft-mor",
        opened("2026-07-06T06:00:00+00:00", channel="web", priority="low", plan="platinum"),
        now="2026-07-06T06:30:00+00:00",
    )
    assert fr(r)["due_at"] == "2026-07-06T08:00:00Z"


def test_priority_orders_work_but_does_not_change_the_target() -> None:
    r = run(
        "kolmisoft-mor",
        opened("2026-11-16T10:00:00+02:00", channel="web", priority="low", plan="silver"),
        ev("severity_changed", "2026-11-16T10:30:00+02:00", priority="high"),
        now="2026-11-16T11:00:00+02:00",
    )
    assert fr(r)["due_at"] == "2026-11-16T14:00:00Z"  # 6 h, as before the change


def test_without_a_plan_the_ticket_is_paid_support() -> None:
    # "Users without a support plan can create a ticket and use a paid support by hourly rate."
    r = run(
        "kolmisoft-mor",
        opened("2026-11-16T10:00:00+02:00", channel="web", priority="high"),
        now="2026-11-20T10:00:00+02:00",
    )
    assert r["accepted"] is True
    assert "paid_support" in r["flags"]
    assert fr(r)["status"] == "none"


def test_a_plan_that_ended_before_opening_gives_paid_support_without_a_clock() -> None:
    # "If ticket is created when user had support plan, then this ticket will be solved same
    # way as if user has support plan" - and one created when the plan had already ended is
    # not: "Users without a support plan can create a ticket and use a paid support by hourly
    # rate." Paid support has no reaction time, whatever plan the ticket names.
    r = run(
        "kolmisoft-mor",
        opened(
            "2026-11-16T10:00:00+02:00", channel="web", priority="high", plan="gold", entitled=False
        ),
        now="2026-11-20T10:00:00+02:00",
    )
    assert r["accepted"] is True
    assert "paid_support" in r["flags"]
    assert fr(r)["status"] == "none"
    assert fr(r)["breached_at"] is None
    assert not [e for e in r["events"] if e["type"] == "sla.breached"]


def test_plan_at_opening_is_kept() -> None:
    # "If ticket is created when user had support plan, then this ticket will be solved same
    # way as if user has support plan even if support plan is already ended."
    r = run(
        "kolmisoft-mor",
        opened("2026-11-16T10:00:00+02:00", channel="web", priority="high", plan="bronze"),
        ev("comment_added", "2026-11-30T10:00:00+02:00", body="plan lapsed yesterday"),
        now="2026-11-16T11:00:00+02:00",
    )
    assert fr(r)["target"] == {"seconds": 12 * 3600, "calendar": "working"}


def test_voice1_emergency_only_by_phone() -> None:
    # "In all cases Emergency Requests MUST be called in. We will not accept tickets submitted
    # via the support portal for emergency issues."
    r = run(
        "voice1",
        opened("2026-11-21T03:00:00-05:00", channel="web", priority="emergency"),
        now="2026-11-21T03:00:00-05:00",
    )
    assert r["accepted"] is False
    assert "1.855.252.8788" in r["rejection"]


def test_voice1_emergency_without_agreement_is_accepted_as_prepay() -> None:
    # "If you do not have a valid support agreement, you will be required to prepay for ESS."
    r = run(
        "voice1",
        opened("2026-11-21T03:00:00-05:00", channel="phone", priority="emergency", entitled=False),
        now="2026-11-21T03:00:00-05:00",
    )
    assert r["accepted"] is True
    assert r["flags"] == ["prepay_required"]


def test_voice1_standard_ticket_by_portal_is_accepted() -> None:
    r = run(
        "voice1",
        opened("2026-11-21T03:00:00-05:00", channel="web", priority="standard"),
        now="2026-11-21T03:00:00-05:00",
    )
    assert r["accepted"] is True
    assert r["flags"] == []
