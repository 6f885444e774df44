"""Voximplant golden cases (voximplant-premium-support.txt). Every clock runs 24x7."""

from __future__ import annotations

import pytest

from tests.unit.sla_helpers import Event, Golden, case_id, check, ev, falls_due, opened, run, types

T0 = "2026-11-17T00:00:00+00:00"
EIGHT_HOURS = {"resolution": 8}  # an Order's Incident Resolution Time
FROM_REGISTRATION = (
    '"Response Time" means the period from registration of the Ticket in the Ticketing System'
)
ONLY_SEVERITY_I = "fixed Incident Resolution Time is set only for Severity I Incidents"


def m(result: dict, metric: str) -> dict:
    return result["metrics"][metric]


def by_email(priority: str, plan: str, **data: object) -> Event:
    """A ticket opened by email at T0."""
    return opened(T0, channel="email", priority=priority, plan=plan, **data)


def vox(opening: Event, *events: Event, now: str) -> dict:
    return run("voximplant", opening, *events, now=now)


@pytest.mark.parametrize(
    ("plan", "severity", "hours"),
    [
        ("silver", "sev1", 2),
        ("gold", "sev1", 1),
        ("platinum", "sev1", 1),
        ("silver", "sev2", 3),
        ("gold", "sev2", 2),
        ("platinum", "sev2", 1),
        ("silver", "sev3", 5),
        ("gold", "sev3", 4),
        ("platinum", "sev3", 4),
        ("silver", "sev4", 24),
        ("gold", "sev4", 8),
        ("platinum", "sev4", 8),
    ],
)
def test_response_time_table_of_section_4(plan: str, severity: str, hours: int) -> None:
    # "Response Time / Severity I, hours 2 1 1 / Severity II 3 2 1 / III 5 4 4 / IV 24 8 8"
    r = vox(by_email(severity, plan), now=T0)
    due = m(r, "first_response")["due_at"]
    assert due == f"2026-11-{17 + hours // 24}T{hours % 24:02d}:00:00Z"


@pytest.mark.parametrize(
    ("quote", "opening", "says"),
    [
        pytest.param(
            "The Policy applies only if there is a valid Order for the Premium Support Services",
            by_email("sev1", "gold", entitled=False),
            "Order",
            id="without_a_valid_order_the_policy_does_not_apply",
        ),
        pytest.param(
            "Support Service Fees and selected Service Plan shall be agreed and specified in the"
            " relevant Order.",
            opened(T0, channel="email", priority="sev1"),
            "plan",
            id="missing_plan_is_refused",
        ),
    ],
)
def test_refused(quote: str, opening: Event, says: str) -> None:
    r = vox(opening, now=T0)
    assert r["accepted"] is False
    assert says in r["rejection"]


RESOLUTION_TARGET = [
    falls_due(
        "incident_resolution_for_sev1_with_target_from_the_order",
        ONLY_SEVERITY_I,
        by_email("sev1", "gold", target_overrides=EIGHT_HOURS),
        now=T0,
        resolution="2026-11-17T08:00:00Z",
    ),
    Golden(
        "no_incident_resolution_for_sev1_without_target_from_the_order",
        ONLY_SEVERITY_I,
        (by_email("sev1", "gold"),),
        now=T0,
        metrics={"resolution": {"status": "none"}},
    ),
    Golden(
        "no_incident_resolution_below_sev1_whatever_the_order_says",
        ONLY_SEVERITY_I,
        (by_email("sev2", "gold", target_overrides=EIGHT_HOURS),),
        now=T0,
        metrics={"resolution": {"status": "none"}},
    ),
]


@pytest.mark.parametrize("case", RESOLUTION_TARGET, ids=case_id)
def test_incident_resolution_only_for_sev1_with_target_from_the_order(case: Golden) -> None:
    check("voximplant", case)


SEVERITY_RAISES_TO_SEV1 = [
    # silver sev4 (24 h) raised to sev1 (2 h) after 1 h: due 2 h after registration.
    falls_due(
        "severity_raise_recomputes_from_registration",
        FROM_REGISTRATION,
        by_email("sev4", "silver"),
        ev("severity_changed", "2026-11-17T01:00:00+00:00", priority="sev1"),
        now="2026-11-17T01:30:00+00:00",
        first_response="2026-11-17T02:00:00Z",
    ),
    Golden(
        "severity_raise_past_the_new_target_breaches_at_the_change_not_before",
        FROM_REGISTRATION,
        (
            by_email("sev4", "silver"),
            ev("severity_changed", "2026-11-17T03:00:00+00:00", priority="sev1"),
        ),
        now="2026-11-17T04:00:00+00:00",
        metrics={"first_response": {"breached_at": "2026-11-17T03:00:00Z"}},
    ),
    # "Incident Resolution Time" also runs "from the registration of the Ticket".
    falls_due(
        "severity_raise_to_sev1_starts_resolution_counted_from_registration",
        f"{ONLY_SEVERITY_I}; {FROM_REGISTRATION}",
        by_email("sev2", "gold", target_overrides=EIGHT_HOURS),
        ev("severity_changed", "2026-11-17T02:00:00+00:00", priority="sev1"),
        now="2026-11-17T02:30:00+00:00",
        resolution="2026-11-17T08:00:00Z",
    ),
]


@pytest.mark.parametrize("case", SEVERITY_RAISES_TO_SEV1, ids=case_id)
def test_a_severity_raise_counts_from_registration(case: Golden) -> None:
    r = check("voximplant", case)
    assert r["priority"] == "sev1"


def test_time_on_the_clients_side_is_excluded_from_resolution() -> None:
    # "The period while Ticket was on Client’s side shall not be included into the Incident
    # Resolution Time."  8 h target; 1 h worked, 3 h on the client's side -> due 11:00.
    r = vox(
        by_email("sev1", "gold", target_overrides=EIGHT_HOURS),
        ev("responded", "2026-11-17T00:30:00+00:00"),
        ev("awaiting_customer", "2026-11-17T01:00:00+00:00"),
        ev("customer_replied", "2026-11-17T04:00:00+00:00"),
        now="2026-11-17T05:00:00+00:00",
    )
    assert m(r, "resolution")["due_at"] == "2026-11-17T11:00:00Z"
    # The gold sev1 response time is 1 h: the client answered after 3 h, too late.
    assert m(r, "customer_response")["status"] == "breached"
    assert ("sla.severity_downgrade_proposed", "2026-11-17T02:00:00Z") in types(r)
    assert ("sla.clock_paused", "2026-11-17T01:00:00Z") in types(r, "resolution")
    assert ("sla.clock_resumed", "2026-11-17T04:00:00Z") in types(r, "resolution")


def test_paused_clock_reports_no_due_time() -> None:
    r = vox(
        by_email("sev1", "gold", target_overrides=EIGHT_HOURS),
        ev("awaiting_customer", "2026-11-17T01:00:00+00:00"),
        now="2026-11-17T05:00:00+00:00",
    )
    assert m(r, "resolution") == {**m(r, "resolution"), "status": "paused", "due_at": None}
    assert m(r, "resolution")["remaining_business_seconds"] == 7 * 3600


def test_customer_silence_proposes_a_one_level_downgrade() -> None:
    # "User's response time ... shall not exceed the Response Time ... In case User does not
    # respond within this deadline Voximplant shall be entitled to decrease Priority Level"
    r = vox(
        by_email("sev2", "gold"),
        ev("awaiting_customer", "2026-11-17T00:30:00+00:00"),
        now="2026-11-17T03:00:00+00:00",
    )
    assert m(r, "customer_response")["status"] == "breached"
    downgrade = [e for e in r["events"] if e["type"] == "sla.severity_downgrade_proposed"]
    assert downgrade == [
        {
            "type": "sla.severity_downgrade_proposed",
            "at": "2026-11-17T02:30:00Z",
            "metric": "customer_response",
            "from": "sev2",
            "to": "sev3",
            "based_on_version": 2,
        }
    ]
    assert not any(e["type"] == "sla.breached" for e in r["events"])


def test_no_downgrade_below_sev4() -> None:
    r = vox(
        by_email("sev4", "gold"),
        ev("awaiting_customer", "2026-11-17T00:30:00+00:00"),
        now="2026-11-18T00:00:00+00:00",
    )
    assert m(r, "customer_response")["status"] == "breached"
    assert not any(e["type"] == "sla.severity_downgrade_proposed" for e in r["events"])


def test_closure_confirmed_by_timeout_after_48_hours() -> None:
    # "If Client does not respond to the request to confirm closure of the Ticket within 48
    # (Forty-eight) hours ... the Ticket is considered successfully closed."
    r = vox(
        by_email("sev3", "gold"),
        ev("responded", "2026-11-17T01:00:00+00:00"),
        ev("resolved", "2026-11-17T05:00:00+00:00"),
        ev("closure_requested", "2026-11-17T06:00:00+00:00"),
        now="2026-11-20T00:00:00+00:00",
    )
    assert m(r, "closure_confirmation")["status"] == "met"
    assert ("sla.close_by_timeout_due", "2026-11-19T06:00:00Z") in types(r)
    due = next(e for e in r["events"] if e["type"] == "sla.close_by_timeout_due")
    assert due["based_on_version"] == 4


def test_customer_reply_stops_the_closure_timeout() -> None:
    r = vox(
        by_email("sev3", "gold"),
        ev("resolved", "2026-11-17T05:00:00+00:00"),
        ev("closure_requested", "2026-11-17T06:00:00+00:00"),
        ev("customer_replied", "2026-11-18T06:00:00+00:00"),
        now="2026-11-20T00:00:00+00:00",
    )
    assert m(r, "closure_confirmation")["status"] == "none"
    assert not any(e["type"] == "sla.close_by_timeout_due" for e in r["events"])


def test_warning_and_breach_agree_after_a_raise_past_the_new_target() -> None:
    # Response time runs "from registration of the Ticket": gold sev4 (8 h) opened 10:00Z and
    # raised to sev1 (1 h) at 13:00Z is due at the change, 13:00Z. No warning may claim an
    # instant before the change that caused it (10:45Z is 75 % of the sev1 hour): the breach
    # at 13:00Z says it all.
    r = run(
        "voximplant",
        opened("2026-11-16T10:00:00Z", channel="web", priority="sev4", plan="gold"),
        ev("severity_changed", "2026-11-16T13:00:00Z", priority="sev1"),
        now="2026-11-16T14:00:00Z",
    )
    first = [e for e in r["events"] if e.get("metric") == "first_response"]
    assert [
        (e["type"], e["at"]) for e in first if e["type"] in ("sla.warning", "sla.breached")
    ] == [("sla.breached", "2026-11-16T13:00:00Z")]
    assert m(r, "first_response")["breached_at"] == "2026-11-16T13:00:00Z"


def test_a_raise_past_the_warning_point_warns_at_the_change_with_the_new_due_time() -> None:
    # silver sev4 (24 h) raised to sev1 (2 h) 1 h 45 min after registration: due 2 h after
    # registration, and the warning point (1 h 30 min) has passed, so it warns at the change.
    r = vox(
        by_email("sev4", "silver"),
        ev("severity_changed", "2026-11-17T01:45:00+00:00", priority="sev1"),
        now="2026-11-17T01:50:00+00:00",
    )
    warnings = [e for e in r["events"] if e["type"] == "sla.warning"]
    assert [(e["at"], e["due_at"]) for e in warnings] == [
        ("2026-11-17T01:45:00Z", "2026-11-17T02:00:00Z")
    ]
