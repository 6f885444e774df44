"""Which ticket events make sense in which state, and the state each one leads to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OPEN = "open"
AWAITING = "awaiting_customer"
RESOLVED = "resolved"
CLOSURE_REQUESTED = "closure_requested"
CLOSED = "closed"

ANYTIME = frozenset({"ticket.comment_added", "ticket.assigned", "ticket.rfo_delivered"})
ALLOWED: dict[str, frozenset[str]] = {
    OPEN: frozenset(
        {
            "ticket.responded",
            "ticket.awaiting_customer",
            "ticket.customer_replied",
            "ticket.severity_changed",
            "ticket.workaround_provided",
            "ticket.resolved",
            "ticket.escalation_requested",
            "ticket.closure_requested",
            "ticket.closed",
        }
    ),
    AWAITING: frozenset(
        {
            "ticket.responded",
            "ticket.customer_replied",
            "ticket.severity_changed",
            "ticket.workaround_provided",
            "ticket.resolved",
            "ticket.escalation_requested",
            "ticket.closed",
        }
    ),
    RESOLVED: frozenset(
        {
            "ticket.customer_replied",
            "ticket.closure_requested",
            "ticket.closed",
            "ticket.reopened",
            "ticket.escalation_requested",
        }
    ),
    CLOSURE_REQUESTED: frozenset(
        {
            "ticket.customer_replied",
            "ticket.closed",
            "ticket.closed_by_timeout",
            "ticket.reopened",
            "ticket.escalation_requested",
        }
    ),
    CLOSED: frozenset({"ticket.reopened"}),
}
NEXT_STATUS: dict[str, str] = {
    "ticket.awaiting_customer": AWAITING,
    "ticket.resolved": RESOLVED,
    "ticket.closure_requested": CLOSURE_REQUESTED,
    "ticket.closed": CLOSED,
    "ticket.closed_by_timeout": CLOSED,
    "ticket.reopened": OPEN,
}


@dataclass
class TransitionRefused(Exception):
    event_type: str
    status: str

    def __str__(self) -> str:
        allowed = sorted(ALLOWED.get(self.status, frozenset()) | ANYTIME)
        return (
            f"{self.event_type} does not apply to a ticket that is {self.status}; "
            f"allowed now: {', '.join(allowed)}"
        )


def next_status(status: str, event_type: str) -> str:
    """The ticket status after `event_type`, or TransitionRefused."""
    if event_type in ANYTIME:
        return status
    if event_type not in ALLOWED.get(status, frozenset()):
        raise TransitionRefused(event_type, status)
    if event_type == "ticket.customer_replied" and status in (AWAITING, CLOSURE_REQUESTED):
        return OPEN
    return NEXT_STATUS.get(event_type, status)


Resolution = Literal["resolution", "workaround"]
ClosedReason = Literal["timeout", "resolution", "workaround", "closed"]


def next_resolution(resolution: Resolution | None, event_type: str) -> Resolution | None:
    """How the ticket's problem stands solved after `event_type`: a workaround, a resolution
    (which a later workaround does not undo), or nothing again once it is reopened."""
    if event_type == "ticket.reopened":
        return None
    if event_type == "ticket.resolved":
        return "resolution"
    if event_type == "ticket.workaround_provided" and resolution is None:
        return "workaround"
    return resolution


def next_closed_reason(
    closed_reason: ClosedReason | None, resolution: Resolution | None, event_type: str
) -> ClosedReason | None:
    """Why the ticket is closed after `event_type`: by the confirmation timeout (voximplant
    3.4.4: no answer to a closure request within 48 hours), after its resolution or its
    workaround, or plainly (closed with neither, e.g. withdrawn); None while it is open."""
    if event_type == "ticket.closed_by_timeout":
        return "timeout"
    if event_type == "ticket.closed":
        return resolution or "closed"
    if event_type == "ticket.reopened":
        return None
    return closed_reason
