"""The escalation matrix and state machine, without I/O."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.domain import escalation as machine
from services.escalation.domain.escalation import CUSTOMER_REQUEST, NotOpen, Trigger
from services.escalation.domain.matrix import matrix_for
from shared.policy import load_policies

POLICIES = {policy.id: policy for policy in load_policies().values()}
# Saturday 2026-11-21 02:00 in Los Angeles: outside hosted-voice standard hours.
SATURDAY_NIGHT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 08:00 PST


def trigger(
    priority: str,
    at: datetime,
    kind: str = "sla.breached",
    policy: str = "hosted-voice",
    metric: str = "first_response",
) -> Trigger:
    return Trigger(
        event_id=uuid.uuid4(),
        kind=kind,
        ticket_id="t-1",
        account="acme",
        policy=f"{policy}@1",
        priority=priority,
        metric=metric,
        at=at,
        deadline=at,
    )


def test_quiet_hours_defer_a_low_priority_breach_to_the_next_opening() -> None:
    matrix = matrix_for(POLICIES["hosted-voice"])
    state, happened = machine.on_raise(None, trigger("p3", SATURDAY_NIGHT), matrix)
    assert state is not None and state.status == "deferred"
    assert state.next_at == MONDAY_OPENING
    assert [(h.type, h.level) for h in happened] == [("escalation.deferred", 0)]
    state, happened = machine.on_due(state, matrix, MONDAY_OPENING)
    assert state is not None and state.status == "raised" and state.level == 1
    assert [(h.type, h.level, h.at) for h in happened] == [("escalation.raised", 1, MONDAY_OPENING)]


def test_a_critical_priority_pages_at_once_and_climbs_in_wall_clock_hours() -> None:
    matrix = matrix_for(POLICIES["hosted-voice"])
    state, happened = machine.on_raise(None, trigger("p1", SATURDAY_NIGHT), matrix)
    assert state is not None and state.status == "raised" and state.critical
    assert [(h.type, h.level, h.at) for h in happened] == [("escalation.raised", 1, SATURDAY_NIGHT)]
    assert state.next_at == SATURDAY_NIGHT + timedelta(hours=2)


def test_next_level_waits_business_hours_for_a_non_critical_one() -> None:
    matrix = matrix_for(POLICIES["hosted-voice"])
    friday_1700 = datetime(2026, 11, 20, 17, 0, tzinfo=(UTC)) + timedelta(hours=8)  # 17:00 PST
    state, _ = machine.on_raise(None, trigger("p2", friday_1700), matrix)
    assert state is not None and state.status == "raised"
    # 2 business hours: 1 h on Friday (17:00-18:00), 1 h on Monday (08:00-09:00 PST).
    assert state.next_at == MONDAY_OPENING + timedelta(hours=1)


def test_levels_advance_until_the_last_then_stop() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    state, _ = machine.on_raise(None, trigger("sev2", at, policy="voximplant"), matrix)
    seen = []
    while state is not None and state.next_at is not None:
        state, happened = machine.on_due(state, matrix, state.next_at)
        seen += [(h.type, h.level, h.at - at) for h in happened]
    assert seen == [
        ("escalation.level_advanced", 2, timedelta(hours=1)),
        ("escalation.level_advanced", 3, timedelta(hours=4)),
    ]


def test_acknowledgement_stops_the_next_level() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    state, _ = machine.on_raise(None, trigger("sev2", at, policy="voximplant"), matrix)
    assert state is not None
    state, happened = machine.acknowledge(state, "jane", at + timedelta(minutes=5))
    assert state is not None and state.status == "acknowledged" and state.next_at is None
    assert [h.type for h in happened] == ["escalation.acknowledged"]
    assert machine.on_due(state, matrix, at + timedelta(hours=9)) == (state, [])
    assert machine.acknowledge(state, "jane", at + timedelta(minutes=6)) == (state, [])
    resolved, _ = machine.resolve(state, "ticket_resolved", at + timedelta(hours=1))
    assert resolved is not None
    with pytest.raises(NotOpen):
        machine.acknowledge(resolved, "jane", at + timedelta(hours=2))


def test_a_warning_then_a_breach_is_one_episode_and_a_redelivered_breach_changes_nothing() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    warned, happened = machine.on_warning(
        None, trigger("sev2", at, "sla.warning", "voximplant"), matrix
    )
    assert warned is not None and [(h.type, h.level) for h in happened] == [
        ("escalation.warned", 1)
    ]
    breach = trigger("sev2", at + timedelta(minutes=30), policy="voximplant")
    raised, happened = machine.on_raise(warned, breach, matrix)
    assert raised is not None and raised.id == warned.id and raised.status == "raised"
    assert [h.type for h in happened] == ["escalation.raised"]
    assert machine.on_raise(raised, breach, matrix) == (raised, [])


def test_met_after_a_warning_resolves_it_and_a_customer_request_is_its_own_episode() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    warned, _ = machine.on_warning(None, trigger("sev3", at, "sla.warning", "voximplant"), matrix)
    assert warned is not None
    resolved, happened = machine.resolve(warned, "met", at + timedelta(minutes=1))
    assert resolved is not None and resolved.status == "resolved"
    assert [h.data for h in happened] == [{"why": "met"}]
    request = trigger("sev3", at, "ticket.escalation_requested", "voximplant", CUSTOMER_REQUEST)
    raised, happened = machine.on_raise(None, request, matrix)
    assert raised is not None and raised.metric == CUSTOMER_REQUEST and raised.status == "raised"


def test_metrics_outside_the_matrix_do_not_escalate() -> None:
    matrix = matrix_for(POLICIES["kolmisoft-mor"])
    at = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    assert machine.on_raise(
        None, trigger("high", at, policy="kolmisoft-mor", metric="resolution"), matrix
    ) == (None, [])


def test_account_override_replaces_levels_and_is_validated() -> None:
    policy = POLICIES["voipster"]
    matrix = matrix_for(
        policy, {"levels": [{"level": 1, "after_hours": 0}, {"level": 2, "after_hours": 0.5}]}
    )
    assert matrix.after_hours("high", None, "first_response") == (0, 0.5)
    with pytest.raises(ValueError, match="critical"):
        matrix_for(policy, {"critical": ["p1"]})
    with pytest.raises(ValueError, match="levels"):
        matrix_for(policy, {"levels": [{"level": 2, "after_hours": 0}]})
    with pytest.raises(ValueError, match="only levels, critical and rules"):
        matrix_for(policy, {"support_calendar": "24x7"})
    with pytest.raises(ValueError, match="unknown plan"):
        matrix_for(
            policy, {"rules": [{"plans": ["gold"], "levels": [{"level": 1, "after_hours": 0}]}]}
        )


def test_rules_pick_levels_by_priority_plan_and_metric() -> None:
    levels = [{"level": 1, "after_hours": 0}, {"level": 2, "after_hours": 0.25}]
    matrix = matrix_for(
        POLICIES["voximplant"],
        {
            "rules": [
                {
                    "priorities": ["sev1"],
                    "plans": ["platinum"],
                    "metrics": ["first_response"],
                    "levels": levels,
                }
            ]
        },
    )
    assert matrix.after_hours("sev1", "platinum", "first_response") == (0, 0.25)
    assert matrix.after_hours("sev1", "gold", "first_response") == (0, 1, 4)
    assert matrix.after_hours("sev1", "platinum", "resolution") == (0, 1, 4)
    at = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    fast = replace(trigger("sev1", at, policy="voximplant"), plan="platinum")
    state, _ = machine.on_raise(None, fast, matrix)
    assert state is not None and state.next_at == at + timedelta(minutes=15)


def test_a_breach_logged_long_after_its_deadline_pages_once_the_highest_level_due() -> None:
    # voximplant sev2 levels at 0, 1 and 4 h. The breach was at `at`, but the ticket was
    # logged 5 h later: one page to level 3, saying it skipped 1 and 2, not three at once.
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    now = at + timedelta(hours=5)
    state, happened = machine.on_raise(None, trigger("sev2", at, policy="voximplant"), matrix, now)
    assert state is not None and state.status == "raised" and state.level == 3
    assert [(h.type, h.level, h.at, h.data) for h in happened] == [
        ("escalation.raised", 3, now, {"skipped_levels": [1, 2]})
    ]
    assert state.raised_at == now and state.deadline == at and state.levels_from == at
    assert state.next_at is None


def test_a_late_breach_still_climbs_from_its_deadline_not_from_when_it_was_seen() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    now = at + timedelta(minutes=90)
    state, happened = machine.on_raise(None, trigger("sev2", at, policy="voximplant"), matrix, now)
    assert state is not None and state.level == 2
    assert happened[0].data == {"skipped_levels": [1]} and happened[0].at == now
    assert state.next_at == at + timedelta(hours=4)


def test_a_scheduler_that_comes_late_pages_only_the_highest_level_due() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    state, _ = machine.on_raise(None, trigger("sev2", at, policy="voximplant"), matrix)
    assert state is not None and state.level == 1
    late = at + timedelta(hours=6)
    state, happened = machine.on_due(state, matrix, late)
    assert [(h.type, h.level, h.at, h.data) for h in happened] == [
        ("escalation.level_advanced", 3, late, {"skipped_levels": [2]})
    ]
    assert state is not None and state.raised_at == at and state.next_at is None


def test_a_warned_episode_shows_the_level_its_warning_told() -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    warned, happened = machine.on_warning(
        None, trigger("sev2", at, "sla.warning", "voximplant"), matrix
    )
    assert warned is not None and warned.level == happened[0].level == 1
