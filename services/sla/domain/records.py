"""A record the SLA service sends: to `ticketflow.sla-events`, `ticketflow.ticket-commands`, a
dead-letter topic or its state changelog. Plain data, so that the use cases build it and the
producer adapter sends it without either importing the other."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int | None = None
    """None: the producer picks it from the key (as Kafka's default partitioner does)."""
