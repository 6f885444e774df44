"""Every Kafka topic ticketflow uses, with its partition count: the one source for code,
the local stack and the Kubernetes `KafkaTopic` manifests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    compacted: bool = False
    retention_days: int = 30
    description: str = ""
    internal: bool = False
    """A service's own state (a changelog): no dead letters, not in the published contract."""

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


TICKET_EVENTS = Topic("ticketflow.ticket-events", 12, description="Ticket history, key = ticket id")
SLA_EVENTS = Topic("ticketflow.sla-events", 12, description="Clock changes, warnings, breaches")
TICKET_COMMANDS = Topic(
    "ticketflow.ticket-commands", 12, description="close-by-timeout, severity-downgrade"
)
ESCALATIONS = Topic("ticketflow.escalations", 6, description="Escalation lifecycle")
NOTIFICATIONS = Topic("ticketflow.notifications", 6, description="Delivery outcomes")
BILLING = Topic(
    "ticketflow.billing",
    6,
    description="Charges, prepaid time and TAM budgets, key = the ticket that caused it",
)

SLA_STATE = Topic(
    "ticketflow.sla-state",
    TICKET_EVENTS.partitions,
    compacted=True,
    description="SLA service table changelog: each ticket's SLA state, partitioned like "
    "ticket-events (key = ticket id)",
    internal=True,
)

ALL_TOPICS: tuple[Topic, ...] = (
    TICKET_EVENTS,
    SLA_EVENTS,
    TICKET_COMMANDS,
    ESCALATIONS,
    NOTIFICATIONS,
    BILLING,
    SLA_STATE,
)


def topics_with_dead_letters() -> list[Topic]:
    """Every topic plus its `<name>.dlq` (same partitioning, longer retention)."""
    out: list[Topic] = []
    for topic in ALL_TOPICS:
        out.append(topic)
        if topic.internal:
            continue
        out.append(
            Topic(
                topic.dlq,
                topic.partitions,
                retention_days=90,
                description=f"Messages from {topic.name} that could not be processed",
            )
        )
    return out
