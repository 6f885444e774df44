"""The event envelope (CloudEvents 1.0) and the typed payloads of every ticket event."""

from shared.events.envelope import Envelope, new_event_id
from shared.events.types import (
    EVENT_TYPES,
    TICKET_EVENT_TYPES,
    EventSpec,
    TicketEventType,
    TicketStatus,
    parse_data,
)

__all__ = [
    "EVENT_TYPES",
    "TICKET_EVENT_TYPES",
    "Envelope",
    "EventSpec",
    "TicketEventType",
    "TicketStatus",
    "new_event_id",
    "parse_data",
]
