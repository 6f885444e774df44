"""A ticket's history folded into what its charges depend on: the opening, the logged work,
the latest determination of each kind, the ESS sessions and the fee quotes.

The priority that selects a rule is the one at opening: the documents price what a ticket was
opened as ("emergency tickets opened for issues not critically impacting ..."; "the Customer
contacts outside of Standard Support Hours ... [for] a Priority 1 outage").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.events.types import TicketEventType as T
from shared.sla.timeline import TimelineEvent

# What ends an ESS session besides `ticket.ess_stopped`: "until the issue is resolved" and
# "a work-around ... has stabilized the environment".
_ENDS_ESS = frozenset({T.RESOLVED.value, T.WORKAROUND_PROVIDED.value, T.CLOSED.value})


@dataclass(frozen=True, slots=True)
class Work:
    started_at: datetime
    minutes: int
    rate: str
    by: str

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(minutes=self.minutes)


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    amount: Decimal
    currency: str
    description: str
    approved: bool | None = None
    """None: not answered yet."""


@dataclass(slots=True)
class TicketHistory:
    opened_at: datetime
    priority: str
    plan: str | None
    entitled: bool
    flags: frozenset[str]
    work: list[Work] = field(default_factory=list)
    determinations: dict[str, str] = field(default_factory=dict)
    sessions: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    """ESS sessions as [start, end); end None: still running."""
    quotes: dict[str, Quote] = field(default_factory=dict)

    @property
    def in_session(self) -> bool:
        return bool(self.sessions) and self.sessions[-1][1] is None


@dataclass(frozen=True, slots=True)
class TicketEventIn:
    """A ticket event as billing reads it off `ticketflow.ticket-events`."""

    event_id: uuid.UUID
    ticket_id: str
    account: str
    policy: str
    event: TimelineEvent


class NotOpened(ValueError):
    """The history does not start with `ticket.opened`."""


def fold(events: Iterable[TimelineEvent]) -> TicketHistory:
    """The billing facts of a ticket, in event order (sequence)."""
    history: TicketHistory | None = None
    for event in events:
        if history is None:
            history = _opened(event)
        else:
            _apply(history, event.type, event.at, event.data)
    if history is None:
        raise NotOpened("no events")
    return history


def _opened(event: TimelineEvent) -> TicketHistory:
    if event.type != T.OPENED:
        raise NotOpened(f"the first event is {event.type}, not ticket.opened")
    data = event.data
    return TicketHistory(
        opened_at=event.at,
        priority=str(data["priority"]),
        plan=data.get("plan"),
        entitled=bool(data.get("entitled", True)),
        flags=frozenset(data.get("flags") or ()),
    )


def _apply(history: TicketHistory, kind: str, at: datetime, data: dict[str, Any]) -> None:
    if kind == T.WORK_LOGGED:
        started = datetime.fromisoformat(data["started_at"])
        history.work.append(Work(started, int(data["minutes"]), str(data["rate"]), data["by"]))
    elif kind == T.DETERMINATION_RECORDED:
        for name in ("criticality", "fault", "cause"):
            if data.get(name) is not None:
                history.determinations[name] = str(data[name])
    elif kind == T.ESS_STARTED:
        if not history.in_session:
            history.sessions.append((at, None))
    elif kind == T.ESS_STOPPED or kind in _ENDS_ESS:
        if history.in_session:
            history.sessions[-1] = (history.sessions[-1][0], at)
    elif kind == T.FEE_QUOTED:
        history.quotes[data["quote_id"]] = Quote(
            data["quote_id"], Decimal(str(data["amount"])), data["currency"], data["description"]
        )
    elif kind == T.QUOTE_ANSWERED:
        quote = history.quotes.get(data["quote_id"])
        if quote is not None:
            history.quotes[quote.quote_id] = Quote(
                quote.quote_id,
                quote.amount,
                quote.currency,
                quote.description,
                bool(data["approved"]),
            )
