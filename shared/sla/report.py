"""The `ticketflow sla simulate` contract: a timeline in, one JSON-ready object out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.policy.model import METRICS, Policy, Target
from shared.sla.core import TicketSla, replay
from shared.sla.timeline import Derived, TimelineEvent


def utc_z(instant: datetime | None) -> str | None:
    """`2026-03-09T16:00:00Z` (microseconds only when present)."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_z(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Target):
        return {"seconds": value.duration.total_seconds(), "calendar": value.calendar.name}
    if isinstance(value, tuple | list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    return value


def derived_json(event: Derived) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event.type, "at": utc_z(event.at)}
    if event.metric is not None:
        body["metric"] = event.metric
    body.update({key: json_value(value) for key, value in event.data.items()})
    return body


def metrics_json(state: TicketSla, now: datetime) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for metric in METRICS:
        clock = state.clock(metric)
        if clock is None:
            out[metric] = {"due_at": None, "status": "none", "breached_at": None}
            continue
        status = clock.status
        row: dict[str, Any] = {
            "due_at": utc_z(clock.due_at) if status in ("running", "met", "breached") else None,
            "status": status,
            "breached_at": utc_z(clock.breached_at),
        }
        if clock.met_at is not None:
            row["met_at"] = utc_z(clock.met_at)
        if clock.target is not None:
            row["target"] = json_value(clock.target)
            if clock.is_active:
                remaining = clock.remaining(now)
                row["remaining_business_seconds"] = (
                    remaining.total_seconds() if remaining is not None else None
                )
        out[metric] = row
    return out


def simulate(policy: Policy, events: Iterable[TimelineEvent], now: datetime) -> dict[str, Any]:
    step = replay(events, policy, now)
    state = step.state
    derived = sorted(step.derived, key=lambda event: event.at)
    result: dict[str, Any] = {
        "policy": policy.ref,
        "now": utc_z(now),
        "accepted": state.accepted,
    }
    if not state.accepted:
        result["rejection"] = state.rejection
    result.update(
        {
            "flags": list(state.flags),
            "priority": state.priority,
            "ticket_status": state.status,
            "metrics": metrics_json(state, now),
            "events": [derived_json(event) for event in derived],
        }
    )
    return result
