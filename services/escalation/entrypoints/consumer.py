"""Turns records of `ticketflow.sla-events` and `ticketflow.ticket-events` into escalation use
cases. A record that does not decode raises `BadMessage` (dead-lettered by the loop)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.common.consumer import BadMessage
from services.escalation.domain.escalation import CUSTOMER_REQUEST, TicketFacts, Trigger
from services.escalation.domain.matrix import UnknownPolicy
from services.escalation.service_layer.escalations import Escalator
from shared.events.codec import DecodeError, from_kafka
from shared.events.envelope import Envelope
from shared.events.sla import SlaEvent
from shared.events.types import TicketEventType
from shared.topics import SLA_EVENTS, TICKET_EVENTS

TOPICS = (SLA_EVENTS.name, TICKET_EVENTS.name)
ENDS_TICKET: dict[str, str] = {
    TicketEventType.RESOLVED: "ticket_resolved",
    TicketEventType.CLOSED: "ticket_closed",
    TicketEventType.CLOSED_BY_TIMEOUT: "ticket_closed_by_timeout",
}


class EscalationConsumer:
    def __init__(self, escalator: Escalator) -> None:
        self._escalator = escalator

    async def handle(self, message: Any) -> str:
        try:
            if message.topic == SLA_EVENTS.name:
                return await self.on_sla(SlaEvent.from_value(message.value or b""))
            return await self.on_ticket(from_kafka(message.key, message.value, message.headers))
        except (ValidationError, DecodeError) as exc:
            raise BadMessage("undecodable", str(exc)) from exc
        except UnknownPolicy as exc:
            raise BadMessage("unknown_policy", f"no policy {exc}") from exc

    async def on_sla(self, event: SlaEvent) -> str:
        escalator = self._escalator
        if event.type in ("sla.warning", "sla.breached") and event.metric is not None:
            number = event.ticket_number or event.data.get("ticket_number")
            return await escalator.on_trigger(
                Trigger(
                    event_id=event.id,
                    kind=event.type,
                    ticket_id=event.ticket_id,
                    account=event.account,
                    policy=event.policy,
                    priority=event.priority,
                    metric=event.metric,
                    at=event.at,
                    plan=event.plan,
                    deadline=event.at if event.type == "sla.breached" else _due(event),
                    ticket_number=number if isinstance(number, str) else None,
                )
            )
        if event.type in ("sla.met", "sla.breach_retracted") and event.metric is not None:
            why = "met" if event.type == "sla.met" else "breach_retracted"
            return await escalator.on_end(event.id, event.ticket_id, event.metric, why, event.at)
        if event.type == "sla.corrected" and event.metric is not None:
            return await escalator.on_corrected(event.id, event.ticket_id, event.metric, event.at)
        return "ignored"

    async def on_ticket(self, envelope: Envelope) -> str:
        escalator = self._escalator
        kind = envelope.type
        if kind in (TicketEventType.OPENED, TicketEventType.SEVERITY_CHANGED):
            number = envelope.data.get("ticket_number")
            facts = TicketFacts(
                envelope.subject,
                envelope.account,
                envelope.policy,
                envelope.data.get("priority"),
                envelope.data.get("plan"),
                number if isinstance(number, str) else None,
            )
            return await escalator.on_ticket(envelope.id, facts)
        if kind in ENDS_TICKET:
            return await escalator.on_end(
                envelope.id, envelope.subject, None, ENDS_TICKET[kind], envelope.time
            )
        if kind == TicketEventType.ESCALATION_REQUESTED:
            known = await escalator.known_ticket(envelope.subject)
            if known is None or known.priority is None:
                raise BadMessage("unknown_ticket", f"no ticket.opened seen for {envelope.subject}")
            return await escalator.on_trigger(
                Trigger(
                    event_id=envelope.id,
                    kind=kind,
                    ticket_id=envelope.subject,
                    account=envelope.account,
                    policy=envelope.policy,
                    priority=known.priority,
                    metric=CUSTOMER_REQUEST,
                    at=envelope.time,
                    plan=known.plan,
                    reason=str(envelope.data.get("reason")),
                    ticket_number=known.number,
                )
            )
        return "ignored"


def _due(event: SlaEvent) -> datetime | None:
    raw = event.data.get("due_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None
