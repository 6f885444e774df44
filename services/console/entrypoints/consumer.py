"""Turns records of `ticketflow.ticket-events`, `ticketflow.sla-events`,
`ticketflow.escalations` and `ticketflow.notifications` into projection use cases. A
record that does not decode raises `BadMessage` (dead-lettered by the loop)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.common.consumer import BadMessage
from services.console.domain.at_risk import ClockChange, TicketFacts
from services.console.domain.history import EscalationSeen, HistoryEvent, notification_mark
from services.console.service_layer.projection import Projection
from shared.events.codec import DecodeError, from_kafka
from shared.events.envelope import Envelope
from shared.events.escalation import EscalationEvent
from shared.events.notification import NotificationEvent
from shared.events.sla import SlaEvent
from shared.topics import ESCALATIONS, NOTIFICATIONS, SLA_EVENTS, TICKET_EVENTS

TOPICS = (TICKET_EVENTS.name, SLA_EVENTS.name, ESCALATIONS.name, NOTIFICATIONS.name)


class ConsoleConsumer:
    def __init__(self, projection: Projection) -> None:
        self._projection = projection

    async def handle(self, message: Any) -> str:
        try:
            if message.topic == SLA_EVENTS.name:
                return await self.on_sla(SlaEvent.from_value(message.value or b""))
            if message.topic == ESCALATIONS.name:
                escalation = EscalationEvent.model_validate_json(message.value or b"")
                return await self.on_escalation(escalation)
            if message.topic == NOTIFICATIONS.name:
                outcome = NotificationEvent.model_validate_json(message.value or b"")
                return await self.on_notification(outcome)
            return await self.on_ticket(from_kafka(message.key, message.value, message.headers))
        except (ValidationError, DecodeError, ValueError) as exc:
            raise BadMessage("undecodable", str(exc)) from exc

    async def on_ticket(self, envelope: Envelope) -> str:
        data = envelope.data
        number = data.get("ticket_number")
        priority = data.get("priority")
        facts = TicketFacts(
            envelope.subject,
            number if isinstance(number, str) else None,
            envelope.account,
            envelope.policy,
            priority if isinstance(priority, str) else "",
        )
        event = HistoryEvent(
            envelope.id,
            envelope.subject,
            envelope.account,
            envelope.policy,
            envelope.type,
            envelope.time,
            envelope.sequence,
            envelope.recorded_at,
            envelope.schema_version,
            data,
        )
        return await self._projection.on_ticket(event, facts)

    async def on_sla(self, event: SlaEvent) -> str:
        if event.metric is None:
            return "ignored"
        raw = event.data.get("due_at")
        due = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        if event.type == "sla.corrected":
            corrected = event.data.get("breached_at")
            due = datetime.fromisoformat(corrected) if isinstance(corrected, str) else None
        change = ClockChange(
            event.type,
            event.ticket_id,
            event.ticket_number,
            event.account,
            event.policy,
            event.priority,
            event.metric,
            event.at,
            due,
        )
        return await self._projection.on_clock(event.id, change, event.at)

    async def on_escalation(self, event: EscalationEvent) -> str:
        by = event.data.get("by")
        seen = EscalationSeen(
            event.id,
            event.type,
            event.escalation_id,
            event.ticket_id,
            event.ticket_number,
            event.account,
            event.policy,
            event.priority,
            event.metric,
            event.trigger,
            event.critical,
            event.level,
            event.deadline,
            event.at,
            by if isinstance(by, str) else None,
        )
        return await self._projection.on_escalation(seen)

    async def on_notification(self, event: NotificationEvent) -> str:
        mark = notification_mark(
            event.id, event.ticket_id, event.type, event.channel, event.template, event.at
        )
        return await self._projection.on_notification(mark, event.id, event.at)
