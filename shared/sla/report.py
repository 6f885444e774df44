"""The `ticketflow sla simulate` contract: a timeline in, one JSON-ready object out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from shared.policy import METRICS, Policy, Target
from shared.sla.core import TicketSla, advance, evolve
from shared.sla.timeline import Emitted, TimelineEvent


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


def emitted_json(event: Emitted) -> dict[str, Any]:
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


class Published(NamedTuple):
    """A derived event and the instant the live service would publish it: a timer's event
    when the clock reaches it, an event's consequences when the event is recorded."""

    event: Emitted
    emitted_at: datetime


def run_arrivals(
    policy: Policy, events: Iterable[TimelineEvent], now: datetime
) -> tuple[TicketSla, list[Published]]:
    """Drive the core the way the SLA worker does: events in arrival order, timers firing by
    the clock in between, so an event recorded late (after a deadline it precedes) arrives
    after the breach and corrects it (`sla.breach_retracted`, `sla.corrected`). Events
    recorded after `now` have not arrived."""
    state: TicketSla | None = None
    published: list[Published] = []
    last: datetime | None = None
    for event in events:
        arrived = event.arrived_at
        if last is not None and arrived < last:
            raise ValueError(
                f"{event.type}: recorded at {utc_z(arrived)}, before the event ahead of it "
                f"({utc_z(last)}); list events in the order they were recorded"
            )
        last = arrived
        if arrived > now:
            break
        if state is not None:
            fired = advance(state, policy, arrived)
            state = fired.state
            published.extend(Published(item, item.at) for item in fired.emitted)
        step = evolve(state, event, policy)
        state = step.state
        published.extend(Published(item, max(item.at, arrived)) for item in step.emitted)
    if state is None:
        raise ValueError(f"no event was recorded by {utc_z(now)}")
    fired = advance(state, policy, now)
    published.extend(Published(item, item.at) for item in fired.emitted)
    return fired.state, published


def simulate(policy: Policy, events: Iterable[TimelineEvent], now: datetime) -> dict[str, Any]:
    """The simulate contract. `events` are in arrival order (each `arrived_at` no earlier
    than the one before); derived events are listed in the order they would be published,
    an `emitted_at` added where that is later than the instant they describe."""
    state, published = run_arrivals(policy, events, now)
    ordered = sorted(published, key=lambda item: item.emitted_at)
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
            "events": [_emitted_json(item) for item in ordered],
        }
    )
    return result


def _emitted_json(item: Published) -> dict[str, Any]:
    body = emitted_json(item.event)
    if item.emitted_at > item.event.at:
        body["emitted_at"] = utc_z(item.emitted_at)
    return body
