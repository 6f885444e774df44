"""Checking an appended event's data against the ticket's pinned policy, as opening a ticket
is checked: a severity change names one of the policy's priorities, and a priority that the
policy accepts only through some channels is refused for a ticket opened through another;
TAM time is logged only where the policy has TAM hours, and ESS sessions start and stop only
where it has Emergency Support Services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.intake.domain.tickets import TicketRow
from shared.events.types import TicketEventType
from shared.policy import Policy


@dataclass
class EventRefused(Exception):
    """The event's data breaks the ticket's policy (HTTP 422 naming `field`)."""

    reason: str
    field: str

    def __str__(self) -> str:
        return self.reason


def check_event(policy: Policy, ticket: TicketRow, event_type: str, data: dict[str, Any]) -> None:
    """Nothing, or EventRefused saying what the policy allows instead."""
    if event_type == TicketEventType.SEVERITY_CHANGED:
        _check_priority(policy, ticket, data["priority"])
    elif event_type == TicketEventType.WORK_LOGGED and data["rate"] == "tam":
        if policy.spec.tam is None:
            raise EventRefused(
                f"{policy.id} has no Technical Account Manager hours: log this work at another "
                "rate (standard, off_hours, emergency)",
                "data.rate",
            )
    elif event_type in (TicketEventType.ESS_STARTED, TicketEventType.ESS_STOPPED):
        if not any(charge.window == "ess" for charge in policy.charges):
            raise EventRefused(
                f"{policy.id} has no Emergency Support Services sessions to start or stop",
                "type",
            )


def _check_priority(policy: Policy, ticket: TicketRow, priority: str) -> None:
    if priority not in policy.priorities:
        raise EventRefused(
            f"unknown priority {priority!r} for {policy.id} "
            f"(expected one of: {', '.join(policy.priorities)})",
            "data.priority",
        )
    for rule in policy.intake.channels:
        if priority in rule.priorities and ticket.channel is not None:
            if ticket.channel not in rule.channels:
                raise EventRefused(
                    f"this ticket was opened by {ticket.channel}, and {policy.id} accepts "
                    f"{priority} only by {', '.join(rule.channels)}: {rule.rejection}",
                    "data.priority",
                )
