"""What the at-risk page and its JSON show of a deadline: due times in the viewer's and the
policy's zones, the time left, the projection's lag."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, Field

from services.console.domain.at_risk import Deadline


class AtRiskView(BaseModel):
    ticket_id: str
    number: str | None
    account: str
    policy: str
    priority: str
    metric: str
    status: str = Field(description="running, paused or breached")
    due_at: datetime | None = Field(description="UTC")
    due_viewer: str | None = Field(description="Due time in the viewer's zone")
    due_policy: str | None = Field(description="Due time in the policy's support zone")
    seconds_left: float | None = Field(description="Negative once overdue; null while paused")
    warned_at: datetime | None
    escalation_level: int
    acknowledged: bool


class AtRiskPage(BaseModel):
    zone: str
    now: datetime
    newest_event_at: datetime | None
    lag_seconds: float | None = Field(description="now - the newest applied event's time")
    rows: list[AtRiskView]


def viewer_zone(name: str | None) -> tzinfo | None:
    """The IANA zone `name`; None when it is not one."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local(at: datetime | None, zone: tzinfo) -> str | None:
    if at is None:
        return None
    return at.astimezone(zone).strftime("%a %d %b %H:%M %Z")


def countdown(seconds: float | None) -> str:
    """`1 h 05 min`, `4 min 10 s`, `overdue 3 min 00 s` (the page's script keeps it live)."""
    if seconds is None:
        return "paused"
    left = abs(int(seconds))
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
    return f"overdue {text}" if seconds < 0 else text


def view(
    row: Deadline, now: datetime, zone: tzinfo, policy_zones: Mapping[str, tzinfo]
) -> AtRiskView:
    policy_zone = policy_zones.get(row.policy, UTC)
    running = row.status != "paused" and row.due_at is not None
    return AtRiskView(
        ticket_id=row.ticket_id,
        number=row.number,
        account=row.account,
        policy=row.policy,
        priority=row.priority,
        metric=row.metric,
        status=row.status,
        due_at=row.due_at.astimezone(UTC) if row.due_at else None,
        due_viewer=local(row.due_at, zone),
        due_policy=local(row.due_at, policy_zone),
        seconds_left=(row.due_at - now).total_seconds() if running and row.due_at else None,
        warned_at=row.warn_at,
        escalation_level=row.escalation_level,
        acknowledged=row.acknowledged,
    )


def page(
    rows: list[AtRiskView], zone_name: str, now: datetime, newest: datetime | None
) -> AtRiskPage:
    lag = None if newest is None else max(0.0, (now - newest).total_seconds())
    return AtRiskPage(zone=zone_name, now=now, newest_event_at=newest, lag_seconds=lag, rows=rows)


def lag_text(seconds: float | None) -> str:
    if seconds is None:
        return "no event applied yet"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return countdown(seconds)


FILTERS: tuple[str, ...] = ("account", "policy", "priority")


def fingerprint(rows: list[AtRiskView]) -> str:
    """The version of a viewer's list: it changes when a row does (the live page reloads its
    table then)."""
    shown: list[Any] = [
        (r.ticket_id, r.metric, r.status, r.due_at, r.escalation_level, r.acknowledged, r.priority)
        for r in rows
    ]
    return hashlib.sha256(orjson.dumps(shown)).hexdigest()[:16]
