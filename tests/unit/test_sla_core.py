"""The core's own contract: evolve/advance purity and ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.policy import Policy, PolicyError, load_policy_file
from shared.sla import TicketSla, TimelineEvent, advance, evolve
from tests.unit.sla_helpers import ev, opened, policies, run

T0 = datetime(2026, 11, 17, tzinfo=UTC)


def test_history_must_start_with_opened() -> None:
    with pytest.raises(ValueError, match="starts with ticket.opened"):
        evolve(None, TimelineEvent("ticket.responded", T0), policies()["voipster"])


def test_evolve_does_not_mutate_the_state_it_was_given() -> None:
    policy = policies()["voximplant"]
    first = evolve(
        None,
        TimelineEvent(
            "ticket.opened", T0, {"channel": "email", "priority": "sev2", "plan": "gold"}
        ),
        policy,
    ).state
    before = dict(first.clocks)
    evolve(first, TimelineEvent("ticket.awaiting_customer", T0 + timedelta(minutes=5)), policy)
    assert first.clocks == before
    assert first.status == "open"


def test_deadlines_are_sorted_and_advance_fires_them_in_order() -> None:
    policy = policies()["voximplant"]
    state = evolve(
        None,
        TimelineEvent(
            "ticket.opened",
            T0,
            {
                "channel": "email",
                "priority": "sev1",
                "plan": "silver",
                "target_overrides": {"resolution": 4},
            },
        ),
        policy,
    ).state
    pending = state.timers
    assert [(d.at - T0, d.metric, d.kind) for d in pending] == [
        (timedelta(minutes=90), "first_response", "warning"),
        (timedelta(hours=2), "first_response", "due"),
        (timedelta(hours=3), "resolution", "warning"),
        (timedelta(hours=4), "resolution", "due"),
    ]
    step = advance(state, policy, T0 + timedelta(hours=5))
    assert [(e.type, e.metric) for e in step.emitted] == [
        ("sla.warning", "first_response"),
        ("sla.breached", "first_response"),
        ("sla.warning", "resolution"),
        ("sla.breached", "resolution"),
    ]
    assert step.state.timers == ()


def test_customer_answering_in_time_meets_their_clock() -> None:
    r = run(
        "voximplant",
        opened("2026-11-17T00:00:00+00:00", channel="email", priority="sev3", plan="gold"),
        ev("awaiting_customer", "2026-11-17T01:00:00+00:00"),
        ev("customer_replied", "2026-11-17T02:00:00+00:00"),
        now="2026-11-18T00:00:00+00:00",
    )
    assert r["metrics"]["customer_response"]["status"] == "met"
    assert not any(e["type"] == "sla.severity_downgrade_proposed" for e in r["events"])


def test_closed_before_any_response_stops_the_response_clock() -> None:
    r = run(
        "voipster",
        opened("2026-11-17T10:00:00-05:00", channel="web", priority="low"),
        ev("closed", "2026-11-17T10:30:00-05:00"),
        now="2026-12-30T00:00:00Z",
    )
    assert r["metrics"]["first_response"]["status"] == "none"
    assert not any(e["type"] == "sla.breached" for e in r["events"])


def test_policy_errors_name_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.yaml"
    path.write_text(
        "id: demo\nversion: 1\nname: d\ndocument: d\npriorities: [p1]\n"
        "metrics:\n  first_response:\n    targets:\n      - {priorities: [p9], hours: 1}\n"
    )
    with pytest.raises(PolicyError, match=r"p\.yaml: .*unknown priority 'p9'"):
        load_policy_file(path)
    path.write_text("id: Demo Policy\nversion: 0\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert "p.yaml: id:" in str(caught.value)
    assert "p.yaml: version:" in str(caught.value)
    assert "p.yaml: priorities:" in str(caught.value)


# --- late events: live timers fire by the wall clock, events may arrive after -----------------


def _sev1_gold_opened() -> tuple[Policy, TicketSla]:
    policy = policies()["voximplant"]
    data = {
        "channel": "web",
        "priority": "sev1",
        "plan": "gold",
        "target_overrides": {"resolution": 4},
    }
    opened_event = TimelineEvent("ticket.opened", T0, data, sequence=1)
    return policy, evolve(None, opened_event, policy).state


def test_a_response_older_than_an_emitted_breach_retracts_it() -> None:
    policy, state = _sev1_gold_opened()
    due = state.clocks["first_response"].due_at
    assert due is not None
    fired = advance(state, policy, due + timedelta(minutes=10))
    assert ("sla.breached", "first_response") in [(e.type, e.metric) for e in fired.emitted]
    # The response happened one minute before the deadline but arrived after the breach.
    late = evolve(
        fired.state,
        TimelineEvent("ticket.responded", due - timedelta(minutes=1), sequence=2),
        policy,
    )
    assert [(e.type, e.metric) for e in late.emitted] == [
        ("sla.breach_retracted", "first_response"),
        ("sla.met", "first_response"),
    ]
    assert late.emitted[0].data["breached_at"] == due
    assert late.state.clocks["first_response"].status == "met"


def test_a_real_late_response_keeps_the_breach() -> None:
    policy, state = _sev1_gold_opened()
    due = state.clocks["first_response"].due_at
    assert due is not None
    fired = advance(state, policy, due + timedelta(minutes=10))
    late = evolve(
        fired.state, TimelineEvent("ticket.responded", due + timedelta(minutes=5)), policy
    )
    assert [e.type for e in late.emitted] == ["sla.clock_stopped"]
    assert late.state.clocks["first_response"].status == "breached"


def test_a_pause_older_than_a_breach_retracts_it_and_the_clock_waits() -> None:
    policy, state = _sev1_gold_opened()
    state = evolve(
        state, TimelineEvent("ticket.responded", T0 + timedelta(minutes=1)), policy
    ).state
    due = state.clocks["resolution"].due_at
    assert due is not None
    fired = advance(state, policy, due + timedelta(hours=1))
    assert ("sla.breached", "resolution") in [(e.type, e.metric) for e in fired.emitted]
    late = evolve(
        fired.state,
        TimelineEvent("ticket.awaiting_customer", due - timedelta(hours=1)),
        policy,
    )
    assert ("sla.breach_retracted", "resolution") in [(e.type, e.metric) for e in late.emitted]
    clock = late.state.clocks["resolution"]
    assert clock.status == "paused" and clock.breached_at is None


def test_clocks_hold_integer_instants_and_edges_read_datetimes() -> None:
    """The core runs on integer microseconds; the datetime an edge reads is converted once per
    due instant and follows the clock when a transition moves its deadline."""
    from shared.calendar.table import micros
    from shared.sla.clock import Clock

    policy = policies()["voipster"]
    state = evolve(
        None, TimelineEvent("ticket.opened", T0, {"channel": "web", "priority": "high"}), policy
    ).state
    clock = state.clocks["first_response"]
    assert isinstance(clock.due_us, int) and clock.runs_us == ((micros(T0), None),)
    assert clock.due_at == clock.due_at and clock.due_at is clock.due_at  # converted once
    assert micros(clock.due_at) == clock.due_us and clock.due_at.tzinfo is UTC
    moved = clock._but(due_us=clock.due_us + 1)
    assert micros(moved.due_at) == clock.due_us + 1  # not the copied conversion
    assert moved == Clock(**{**{f: getattr(moved, f) for f in Clock.__dataclass_fields__}})
    assert [timer.at for timer in state.timers] == [
        T0 + (timer.at_us - micros(T0)) * timedelta(microseconds=1) for timer in state.timers
    ]
