"""`ticketflow sla simulate` with arrival order: events carry `recorded_at`, timers fire by
the clock between arrivals, so a late-logged response retracts the breach it precedes, and
`--now` sees only what was recorded by then. The same fold as the SLA worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from shared.sla import TimelineEvent
from shared.sla.report import simulate
from tests.unit.sla_helpers import policies


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def event(kind: str, occurred: str, recorded: str | None = None, **data: Any) -> TimelineEvent:
    return TimelineEvent(
        f"ticket.{kind}", at(occurred), data, recorded_at=at(recorded) if recorded else None
    )


def run(*events: TimelineEvent, now: str, policy: str = "voximplant") -> dict[str, Any]:
    numbered = [
        TimelineEvent(e.type, e.at, e.data, sequence=i, recorded_at=e.recorded_at)
        for i, e in enumerate(events, start=1)
    ]
    return simulate(policies()[policy], numbered, at(now))


OPEN = event("opened", "2026-11-16T10:00:00Z", channel="web", priority="sev1", plan="gold")


def test_a_response_logged_after_its_deadline_retracts_the_breach() -> None:
    # gold sev1: 1 h to respond, due 11:00Z. The response happened at 10:50Z but was logged at
    # 11:30Z: live, the breach fired at 11:00Z, and the late response retracts it.
    result = run(
        OPEN,
        event("responded", "2026-11-16T10:50:00Z", "2026-11-16T11:30:00Z"),
        now="2026-11-16T12:00:00Z",
    )
    fr = [e for e in result["events"] if e.get("metric") == "first_response"]
    shown = [(e["type"], e["at"], e.get("emitted_at")) for e in fr]
    assert ("sla.breached", "2026-11-16T11:00:00Z", None) in shown
    breach = shown.index(("sla.breached", "2026-11-16T11:00:00Z", None))
    retracted = [e for e in fr if e["type"] == "sla.breach_retracted"]
    assert len(retracted) == 1
    assert retracted[0]["breached_at"] == "2026-11-16T11:00:00Z"
    assert retracted[0]["emitted_at"] == "2026-11-16T11:30:00Z"
    assert fr.index(retracted[0]) > breach
    assert result["metrics"]["first_response"]["status"] == "met"
    assert result["metrics"]["first_response"]["breached_at"] is None


def test_the_same_response_logged_in_time_never_breaches() -> None:
    result = run(OPEN, event("responded", "2026-11-16T10:50:00Z"), now="2026-11-16T12:00:00Z")
    kinds = [e["type"] for e in result["events"] if e.get("metric") == "first_response"]
    assert "sla.breached" not in kinds and "sla.breach_retracted" not in kinds


def test_now_ignores_events_recorded_after_it() -> None:
    # The response is recorded at 16:30Z: under --now 16:00Z it has not arrived yet.
    late = event("responded", "2026-11-16T10:50:00Z", "2026-11-16T16:30:00Z")
    before = run(OPEN, late, now="2026-11-16T16:00:00Z")
    assert before["metrics"]["first_response"]["status"] == "breached"
    after = run(OPEN, late, now="2026-11-16T17:00:00Z")
    assert after["metrics"]["first_response"]["status"] == "met"


def test_events_recorded_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="order they were recorded"):
        run(
            OPEN,
            event("responded", "2026-11-16T10:50:00Z", "2026-11-16T11:30:00Z"),
            event("comment_added", "2026-11-16T11:00:00Z", "2026-11-16T11:10:00Z", body="x"),
            now="2026-11-16T12:00:00Z",
        )


def test_recorded_before_it_happened_is_refused() -> None:
    with pytest.raises(ValueError, match="earlier than the event time"):
        event("responded", "2026-11-16T10:50:00Z", "2026-11-16T10:40:00Z")


def test_nothing_recorded_by_now_is_an_error() -> None:
    with pytest.raises(ValueError, match="no event was recorded"):
        run(OPEN, now="2026-11-16T09:00:00Z")
