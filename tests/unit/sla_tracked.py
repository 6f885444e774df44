"""Tickets as the SLA worker's pure domain tracks them: voximplant@1 events a number of minutes
after T0, each recorded a second after it happened, folded one by one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.sla.domain.processing import apply_event
from services.sla.domain.tracked import Incoming, Tracked
from tests.unit.sla_helpers import policies

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
TICKET = str(uuid.UUID(int=7))
PARTITION = 3
OPEN = {"channel": "email", "priority": "sev2", "plan": "gold"}


def incoming(kind: str, minutes: float, sequence: int, **data: object) -> Incoming:
    return Incoming(
        event_id=str(uuid.uuid4()),
        type=f"ticket.{kind}",
        at=T0 + timedelta(minutes=minutes),
        sequence=sequence,
        account="acme",
        policy="voximplant@1",
        data=dict(data),
        recorded_at=T0 + timedelta(minutes=minutes, seconds=1),
    )


def track(*events: Incoming) -> Tracked:
    tracked: Tracked | None = None
    for event in events:
        tracked = apply_event(tracked, event, TICKET, PARTITION, policies()["voximplant"]).tracked
    assert tracked is not None
    return tracked
