"""Which ticket events make sense in which state, and the state each one leads to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events.types import TicketEventType, TicketStatus

OPEN = TicketStatus.OPEN
AWAITING = TicketStatus.AWAITING_CUSTOMER
RESOLVED = TicketStatus.RESOLVED
CLOSURE_REQUESTED = TicketStatus.CLOSURE_REQUESTED
CLOSED = TicketStatus.CLOSED

# What staff record for billing comes after the fact too (a review after the resolution, the
# work logged once the night is over), so it fits any state.
ANYTIME = frozenset(
    {
        TicketEventType.COMMENT_ADDED,
        TicketEventType.ASSIGNED,
        TicketEventType.RFO_DELIVERED,
        TicketEventType.WORK_LOGGED,
        TicketEventType.DETERMINATION_RECORDED,
        TicketEventType.FEE_QUOTED,
        TicketEventType.QUOTE_ANSWERED,
    }
)
# An ESS session runs while the ticket is worked on (resolution and a work-around end it).
ESS = frozenset({TicketEventType.ESS_STARTED, TicketEventType.ESS_STOPPED})
ALLOWED: dict[str, frozenset[str]] = {
    OPEN: frozenset(
        {
            TicketEventType.RESPONDED,
            TicketEventType.AWAITING_CUSTOMER,
            TicketEventType.CUSTOMER_REPLIED,
            TicketEventType.SEVERITY_CHANGED,
            TicketEventType.WORKAROUND_PROVIDED,
            TicketEventType.RESOLVED,
            TicketEventType.ESCALATION_REQUESTED,
            TicketEventType.CLOSURE_REQUESTED,
            TicketEventType.CLOSED,
            *ESS,
        }
    ),
    AWAITING: frozenset(
        {
            TicketEventType.RESPONDED,
            TicketEventType.CUSTOMER_REPLIED,
            TicketEventType.SEVERITY_CHANGED,
            TicketEventType.WORKAROUND_PROVIDED,
            TicketEventType.RESOLVED,
            TicketEventType.ESCALATION_REQUESTED,
            TicketEventType.CLOSED,
            *ESS,
        }
    ),
    RESOLVED: frozenset(
        {
            TicketEventType.CUSTOMER_REPLIED,
            TicketEventType.CLOSURE_REQUESTED,
            TicketEventType.CLOSED,
            TicketEventType.REOPENED,
            TicketEventType.ESCALATION_REQUESTED,
        }
    ),
    CLOSURE_REQUESTED: frozenset(
        {
            TicketEventType.CUSTOMER_REPLIED,
            TicketEventType.CLOSED,
            TicketEventType.CLOSED_BY_TIMEOUT,
            TicketEventType.REOPENED,
            TicketEventType.ESCALATION_REQUESTED,
        }
    ),
    CLOSED: frozenset({TicketEventType.REOPENED}),
}
NEXT_STATUS: dict[str, str] = {
    TicketEventType.AWAITING_CUSTOMER: AWAITING,
    TicketEventType.RESOLVED: RESOLVED,
    TicketEventType.CLOSURE_REQUESTED: CLOSURE_REQUESTED,
    TicketEventType.CLOSED: CLOSED,
    TicketEventType.CLOSED_BY_TIMEOUT: CLOSED,
    TicketEventType.REOPENED: OPEN,
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
    if event_type == TicketEventType.CUSTOMER_REPLIED and status in (AWAITING, CLOSURE_REQUESTED):
        return OPEN
    return NEXT_STATUS.get(event_type, status)


Resolution = Literal["resolution", "workaround"]
ClosedReason = Literal["timeout", "resolution", "workaround", "closed"]


def next_resolution(resolution: Resolution | None, event_type: str) -> Resolution | None:
    """How the ticket's problem stands solved after `event_type`: a workaround, a resolution
    (which a later workaround does not undo), or nothing again once it is reopened."""
    if event_type == TicketEventType.REOPENED:
        return None
    if event_type == TicketEventType.RESOLVED:
        return "resolution"
    if event_type == TicketEventType.WORKAROUND_PROVIDED and resolution is None:
        return "workaround"
    return resolution


def next_closed_reason(
    closed_reason: ClosedReason | None, resolution: Resolution | None, event_type: str
) -> ClosedReason | None:
    """Why the ticket is closed after `event_type`: by the confirmation timeout (voximplant
    3.4.4: no answer to a closure request within 48 hours), after its resolution or its
    workaround, or plainly (closed with neither, e.g. withdrawn); None while it is open."""
    if event_type == TicketEventType.CLOSED_BY_TIMEOUT:
        return "timeout"
    if event_type == TicketEventType.CLOSED:
        return resolution or "closed"
    if event_type == TicketEventType.REOPENED:
        return None
    return closed_reason
