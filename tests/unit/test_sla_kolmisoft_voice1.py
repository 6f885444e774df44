"""Kolmisoft MOR (kolmisoft-mor-support.txt) and VOICE1 (voice1-emergency-support.txt)."""

from __future__ import annotations

import pytest

from tests.unit.sla_helpers import Event, Golden, case_id, check, ev, falls_due, opened, run

WORKING_HOURS = "Hours are Working hours, which are Monday to Friday from 9.00 - 18.00 GMT+2."
PAID_SUPPORT = (
    "Users without a support plan can create a ticket and use a paid support by hourly rate."
)

REACTION_TIME = [
    falls_due(
        "gold_reaction_time_is_three_working_hours_at_gmt_plus_2",
        f'"0-3h | High | GOLD"; "{WORKING_HOURS}"',
        opened("2026-11-16T17:00:00+02:00", channel="web", priority="high", plan="gold"),
        now="2026-11-16T17:30:00+02:00",
        first_response="2026-11-17T09:00:00Z",  # Tue 11:00 GMT+2
    ),
    # GMT+2 is a fixed offset: in July (when Europe/Helsinki would be +3) 09:00 is still 07:00Z.
    falls_due(
        "fixed_offset_ignores_european_dst",
        f'"0-1h | Low | PLATINUM"; "{WORKING_HOURS}"',
        opened("2026-07-06T06:00:00+00:00", channel="web", priority="low", plan="platinum"),
        now="2026-07-06T06:30:00+00:00",
        first_response="2026-07-06T08:00:00Z",
    ),
    falls_due(
        "priority_orders_work_but_does_not_change_the_target",
        '"In what order tickets are solved"; "0-6h | Low | SILVER" and "0-6h | High | SILVER"',
        opened("2026-11-16T10:00:00+02:00", channel="web", priority="low", plan="silver"),
        ev("severity_changed", "2026-11-16T10:30:00+02:00", priority="high"),
        now="2026-11-16T11:00:00+02:00",
        first_response="2026-11-16T14:00:00Z",  # 6 h, as before the change
    ),
]


@pytest.mark.parametrize("case", REACTION_TIME, ids=case_id)
def test_reaction_time(case: Golden) -> None:
    check("kolmisoft-mor", case)


NO_REACTION_TIME = {"first_response": {"status": "none", "breached_at": None}}
PAID_SUPPORT_CASES = [
    Golden(
        "without_a_plan_the_ticket_is_paid_support",
        PAID_SUPPORT,
        (opened("2026-11-16T10:00:00+02:00", channel="web", priority="high"),),
        now="2026-11-20T10:00:00+02:00",
        metrics=NO_REACTION_TIME,
        flags={"paid_support": True},
    ),
    # "If ticket is created when user had support plan, then this ticket will be solved same
    # way as if user has support plan" - and one created when the plan had already ended is
    # not. Paid support has no reaction time, whatever plan the ticket names.
    Golden(
        "a_plan_that_ended_before_opening_gives_paid_support_without_a_clock",
        PAID_SUPPORT,
        (
            opened(
                "2026-11-16T10:00:00+02:00",
                channel="web",
                priority="high",
                plan="gold",
                entitled=False,
            ),
        ),
        now="2026-11-20T10:00:00+02:00",
        metrics=NO_REACTION_TIME,
        flags={"paid_support": True},
    ),
]


@pytest.mark.parametrize("case", PAID_SUPPORT_CASES, ids=case_id)
def test_paid_support_has_no_reaction_time(case: Golden) -> None:
    r = check("kolmisoft-mor", case)
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
    assert r["metrics"]["first_response"]["target"] == {"seconds": 12 * 3600, "calendar": "working"}


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


@pytest.mark.parametrize(
    ("quote", "opening", "flags"),
    [
        pytest.param(
            "If you do not have a valid support agreement, you will be required to prepay for ESS.",
            opened(
                "2026-11-21T03:00:00-05:00", channel="phone", priority="emergency", entitled=False
            ),
            ["prepay_required"],
            id="voice1_emergency_without_agreement_is_accepted_as_prepay",
        ),
        pytest.param(
            "We will not accept tickets submitted via the support portal for emergency issues.",
            opened("2026-11-21T03:00:00-05:00", channel="web", priority="standard"),
            [],
            id="voice1_standard_ticket_by_portal_is_accepted",
        ),
    ],
)
def test_voice1_accepts(quote: str, opening: Event, flags: list[str]) -> None:
    r = run("voice1", opening, now="2026-11-21T03:00:00-05:00")
    assert r["accepted"] is True
    assert r["flags"] == flags
