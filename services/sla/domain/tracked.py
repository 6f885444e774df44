"""A ticket as the SLA service tracks it: the core's state plus what the service needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.sla import TicketSla, TimelineEvent


@dataclass(frozen=True, slots=True)
class Incoming:
    """A ticket event off the topic, reduced to what the SLA service reads."""

    event_id: str
    type: str
    at: datetime
    sequence: int
    account: str
    policy: str
    data: dict[str, Any] = field(default_factory=dict)
    recorded_at: datetime | None = None

    def timeline(self) -> TimelineEvent:
        return TimelineEvent(self.type, self.at, self.data, self.sequence)


@dataclass(frozen=True, slots=True)
class Tracked:
    """One ticket's SLA state in the service.

    `sla` is None while only events past a gap have arrived (the opening is missing); `held`
    keeps such events, in sequence order, until the gap fills. `number` is the ticket number
    from `ticket.opened`, carried on every SLA record so that no consumer pages without it.
    """

    ticket_id: str
    account: str
    policy: str
    partition: int
    sla: TicketSla | None
    held: tuple[Incoming, ...] = ()
    number: str | None = None
    trace: str | None = None
    """The W3C traceparent of the last event applied (its span in the SLA service): the
    trace a timer firing later continues, so one trace runs from the request to the
    breach. None when it was not traced."""

    @property
    def version(self) -> int:
        return self.sla.version if self.sla is not None else 0

    @property
    def next_due(self) -> datetime | None:
        """The earliest pending timer, if any."""
        if self.sla is None or not self.sla.timers:
            return None
        return self.sla.timers[0].at

    @property
    def next_due_s(self) -> float | None:
        """The earliest pending timer in epoch seconds (what the timer heap orders by)."""
        if self.sla is None or not self.sla.timers:
            return None
        return self.sla.timers[0].at_us / 1_000_000
