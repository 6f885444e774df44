"""What a command from the SLA service becomes in the ticket's history."""

from __future__ import annotations

from services.intake.domain.tickets import TicketRow
from shared.commands import TicketCommand
from shared.events import Envelope
from shared.events.types import TicketEventType


def event_for(command: TicketCommand, ticket: TicketRow) -> Envelope:
    """The event a command appends, stamped with the deadline that triggered it."""
    if command.type == "close_by_timeout":
        kind = TicketEventType.CLOSED_BY_TIMEOUT
        data: dict[str, object] = {
            "based_on_version": command.based_on_version,
            "requested_at": command.issued_at.isoformat(),
        }
    else:
        kind = TicketEventType.SEVERITY_CHANGED
        data = {
            "priority": command.priority or ticket.priority,
            "reason": command.reason or "customer did not answer within the response time",
        }
    return ticket.next_event(kind, command.due_at, data, source="sla", causation_id=command.id)
