"""Ticket events as billing reads them, numbered as intake numbers them: the builder the
billing use-case tests (unit, on the in-memory ledger) and the ledger contract tests
(integration, on PostgreSQL) share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.billing.domain.history import TicketEventIn
from shared.sla.timeline import TimelineEvent

T0 = datetime(2026, 11, 7, 3, 0, tzinfo=UTC)  # Friday 19:00 in Los Angeles: off hours


class Ticket:
    """Events of one ticket, `minute`s after T0."""

    def __init__(self, policy: str, account: str = "acme") -> None:
        self.id = str(uuid.uuid4())
        self.policy = policy
        self.account = account
        self.sequence = 0

    def event(self, kind: str, minute: int, **data: Any) -> TicketEventIn:
        self.sequence += 1
        at = T0 + timedelta(minutes=minute)
        return TicketEventIn(
            uuid.uuid4(),
            self.id,
            self.account,
            self.policy,
            TimelineEvent(kind, at, data, sequence=self.sequence),
        )

    def opened(
        self, priority: str, plan: str | None = None, flags: tuple[str, ...] = ()
    ) -> TicketEventIn:
        return self.event(
            "ticket.opened", 0, channel="phone", priority=priority, plan=plan, flags=list(flags)
        )

    def work(self, start: int, minutes: int, rate: str) -> TicketEventIn:
        started = (T0 + timedelta(minutes=start)).isoformat()
        return self.event(
            "ticket.work_logged",
            start + minutes,
            by="eng",
            started_at=started,
            minutes=minutes,
            rate=rate,
        )
