"""Helpers for golden SLA tests: a compact timeline -> the simulate result."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from shared.policy import Policy, load_policies
from shared.sla import TimelineEvent
from shared.sla.report import simulate


@cache
def policies() -> dict[str, Policy]:
    return load_policies()


def run(policy_id: str, *events: tuple[str, str, dict[str, Any]], now: str) -> dict[str, Any]:
    timeline = [
        TimelineEvent(kind, datetime.fromisoformat(at), data, sequence=index)
        for index, (kind, at, data) in enumerate(events, start=1)
    ]
    return simulate(policies()[policy_id], timeline, datetime.fromisoformat(now))


def opened(at: str, **data: Any) -> tuple[str, str, dict[str, Any]]:
    return ("ticket.opened", at, data)


def ev(kind: str, at: str, **data: Any) -> tuple[str, str, dict[str, Any]]:
    return (f"ticket.{kind}", at, data)


def types(result: dict[str, Any], metric: str | None = None) -> list[tuple[str, str]]:
    return [
        (event["type"], event["at"])
        for event in result["events"]
        if metric is None or event.get("metric") == metric
    ]
