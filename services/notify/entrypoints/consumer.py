"""Decodes records of ticket-events, sla-events, escalations and billing into notification
sources. A record that does not decode raises `BadMessage` (the loop dead-letters it to
`<topic>.dlq`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.common.consumer import BadMessage
from services.notify.domain.routing import Source
from services.notify.service_layer.planning import Planner
from shared.events.billing import BillingEvent
from shared.events.codec import DecodeError, from_kafka
from shared.events.escalation import EscalationEvent
from shared.events.sla import SlaEvent
from shared.events.types import TicketEventType
from shared.topics import BILLING, ESCALATIONS, SLA_EVENTS, TICKET_EVENTS

TOPICS = (TICKET_EVENTS.name, SLA_EVENTS.name, ESCALATIONS.name, BILLING.name)


class NotifyConsumer:
    def __init__(self, planner: Planner) -> None:
        self._planner = planner

    async def handle(self, message: Any) -> str:
        try:
            if message.topic == SLA_EVENTS.name:
                sla = SlaEvent.from_value(message.value or b"")
                return await self._planner.on_event(
                    Source(
                        sla.id,
                        sla.type,
                        sla.ticket_id,
                        sla.account,
                        sla.model_dump(mode="json"),
                        "sla",
                    )
                )
            if message.topic == ESCALATIONS.name:
                escalation = EscalationEvent.model_validate_json(message.value or b"")
                return await self._planner.on_event(
                    Source(
                        escalation.id,
                        escalation.type,
                        escalation.ticket_id,
                        escalation.account,
                        escalation.model_dump(mode="json"),
                        "escalation",
                    ),
                    recipients=escalation.recipients,
                )
            if message.topic == BILLING.name:
                billing = BillingEvent.model_validate_json(message.value or b"")
                # About the account's ledger; the ticket is the one whose work caused it.
                return await self._planner.on_event(
                    Source(
                        billing.id,
                        billing.type,
                        billing.ticket_id,
                        billing.account,
                        billing.model_dump(mode="json"),
                        "billing",
                    )
                )
            envelope = from_kafka(message.key, message.value, message.headers)
        except (ValidationError, DecodeError) as exc:
            raise BadMessage("undecodable", str(exc)) from exc
        source = Source(
            envelope.id,
            envelope.type,
            envelope.subject,
            envelope.account,
            envelope.model_dump(mode="json", exclude_none=True),
            envelope.source,
        )
        opened = envelope.data if envelope.type == TicketEventType.OPENED else None
        if envelope.type == TicketEventType.SEVERITY_CHANGED:
            opened = {"priority": envelope.data.get("priority")}
        return await self._planner.on_event(source, opened=opened)
