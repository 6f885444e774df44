"""Turns records of `ticketflow.ticket-events` into billing's use case. A record that does not
decode, names no loaded policy, or belongs to a ticket billing never saw opened raises
`BadMessage` (dead-lettered by the loop)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.billing.domain.history import TicketEventIn
from services.billing.service_layer.ledger import Biller, UnknownPolicy, UnknownTicket
from services.common.consumer import BadMessage
from shared.events.codec import DecodeError, from_kafka
from shared.events.envelope import Envelope
from shared.sla.timeline import TimelineEvent
from shared.topics import TICKET_EVENTS

TOPICS = (TICKET_EVENTS.name,)


def incoming(envelope: Envelope) -> TicketEventIn:
    return TicketEventIn(
        event_id=envelope.id,
        ticket_id=envelope.subject,
        account=envelope.account,
        policy=envelope.policy,
        event=TimelineEvent(
            envelope.type,
            envelope.time,
            dict(envelope.data),
            sequence=envelope.sequence,
            recorded_at=envelope.recorded_at,
        ),
    )


class BillingConsumer:
    def __init__(self, biller: Biller) -> None:
        self._biller = biller

    async def handle(self, message: Any) -> str:
        try:
            envelope = from_kafka(message.key, message.value, message.headers)
        except (ValidationError, DecodeError) as exc:
            raise BadMessage("undecodable", str(exc)) from exc
        try:
            return await self._biller.on_ticket_event(incoming(envelope))
        except UnknownPolicy as exc:
            raise BadMessage("unknown_policy", f"no policy {exc}") from exc
        except UnknownTicket as exc:
            raise BadMessage("unknown_ticket", str(exc)) from exc
