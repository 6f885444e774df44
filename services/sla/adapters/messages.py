"""A Kafka record off `ticketflow.ticket-events`, and its decoding into what the tracker reads."""

from __future__ import annotations

from dataclasses import dataclass

from services.sla.domain.tracked import Incoming
from shared.events.codec import DecodeError, from_kafka


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: float | None = None
    """Epoch seconds of the record's broker/producer timestamp."""


def decode_message(message: RawMessage) -> tuple[bytes, Incoming]:
    """(ticket key, event); raises DecodeError for anything malformed."""
    if not message.key:
        raise DecodeError("record has no key (the ticket id)")
    envelope = from_kafka(message.key, message.value, message.headers)
    return message.key, Incoming(
        event_id=str(envelope.id),
        type=envelope.type,
        at=envelope.time,
        sequence=envelope.sequence,
        account=envelope.account,
        policy=envelope.policy,
        data=envelope.data,
        recorded_at=envelope.recorded_at,
    )
