"""Helpers for golden SLA tests: a compact timeline -> the simulate result, and tables of golden
cases that keep the provider document's sentence next to the values derived from it by hand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from shared.policy import Policy, load_policies
from shared.sla import TimelineEvent
from shared.sla.report import simulate

Event = tuple[str, str, dict[str, Any]]


@cache
def policies() -> dict[str, Policy]:
    return load_policies()


def run(policy_id: str, *events: Event, now: str) -> dict[str, Any]:
    timeline = [
        TimelineEvent(kind, datetime.fromisoformat(at), data, sequence=index)
        for index, (kind, at, data) in enumerate(events, start=1)
    ]
    return simulate(policies()[policy_id], timeline, datetime.fromisoformat(now))


def opened(at: str, **data: Any) -> Event:
    return ("ticket.opened", at, data)


def ev(kind: str, at: str, **data: Any) -> Event:
    return (f"ticket.{kind}", at, data)


def types(result: dict[str, Any], metric: str | None = None) -> list[tuple[str, str]]:
    return [
        (event["type"], event["at"])
        for event in result["events"]
        if metric is None or event.get("metric") == metric
    ]


@dataclass(frozen=True)
class Golden:
    """One golden case: the sentence of the provider document it tests, a ticket's timeline seen
    at `now`, and what that sentence says the result shows then, worked out by hand."""

    name: str
    """The case's test id."""
    quote: str
    timeline: tuple[Event, ...]
    now: str
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """metric -> fields its report must have (the others are not checked)."""
    flags: Mapping[str, bool] = field(default_factory=dict)
    """flag -> whether the result raises it."""
    accepted: bool = True


def case_id(case: Golden) -> str:
    return case.name


def check(policy_id: str, case: Golden) -> dict[str, Any]:
    """Runs `case` under the policy, asserts what it expects and returns the result."""
    result = run(policy_id, *case.timeline, now=case.now)
    assert result["accepted"] is case.accepted, result.get("rejection")
    for metric, fields in case.metrics.items():
        report = result["metrics"][metric]
        assert report == {**report, **fields}, metric
    for flag, raised in case.flags.items():
        assert (flag in result["flags"]) is raised, flag
    return result


def falls_due(
    name: str,
    quote: str,
    *timeline: Event,
    now: str,
    flags: Mapping[str, bool] | None = None,
    **due_at: str,
) -> Golden:
    """A case seen before its deadlines: each named metric (`first_response="…Z"`) is running
    and due at the time given."""
    metrics = {metric: {"due_at": at, "status": "running"} for metric, at in due_at.items()}
    return Golden(name, quote, timeline, now, metrics, flags or {})
