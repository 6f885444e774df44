"""Who is told what: the notifications an incoming event asks for. Pure; the consumer renders
and stores them, the deliverer sends them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.events.notification import notification_id
from shared.events.types import TicketEventType

Channel = Literal["email", "webhook"]

# Ticket events that tell the ticket's contact something, and the template that does.
CONTACT_TEMPLATES: dict[str, str] = {
    TicketEventType.OPENED: "ticket_opened",
    TicketEventType.CLOSURE_REQUESTED: "closure_requested",
    TicketEventType.CLOSED_BY_TIMEOUT: "closed_by_timeout",
}
ESCALATION_TEMPLATES = {
    "escalation.warned": "escalation_warned",
    "escalation.raised": "escalation_raised",
    "escalation.level_advanced": "escalation_level_advanced",
}
TEMPLATES = (*CONTACT_TEMPLATES.values(), "severity_downgraded", *ESCALATION_TEMPLATES.values())


class UnknownTemplate(LookupError):
    """No notification uses a template of that name."""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    account: str
    events: frozenset[str]

    def wants(self, event_type: str) -> bool:
        family = event_type.split(".", 1)[0] + ".*"
        return "*" in self.events or event_type in self.events or family in self.events


@dataclass(frozen=True, slots=True)
class Source:
    """The event being notified about, as routing needs it."""

    event_id: uuid.UUID
    type: str
    ticket_id: str
    account: str
    body: dict[str, Any] = field(default_factory=dict)
    """The event as published (the webhook payload's `event`)."""
    origin: str | None = None
    """The producing service (`sla` for SLA-issued ticket commands)."""


@dataclass(frozen=True, slots=True)
class Planned:
    id: uuid.UUID
    channel: Channel
    recipient: str
    template: str
    source: Source


def _planned(source: Source, channel: Channel, recipient: str, template: str) -> Planned:
    return Planned(
        notification_id(source.event_id, recipient, channel), channel, recipient, template, source
    )


def contact_template(source: Source) -> str | None:
    if source.type in CONTACT_TEMPLATES:
        return CONTACT_TEMPLATES[source.type]
    if source.type == TicketEventType.SEVERITY_CHANGED and source.origin == "sla":
        return "severity_downgraded"
    return None


def plan(
    source: Source,
    contact: str | None,
    recipients: list[str],
    subscriptions: list[Subscription],
) -> list[Planned]:
    """Emails to the ticket's contact (ticket events) or the escalation level's recipients
    (escalation events), and one webhook per subscription of the account that wants the
    event type. Ids are deterministic, so planning the same event twice plans nothing new."""
    out: list[Planned] = []
    template = contact_template(source)
    if template is not None and contact:
        out.append(_planned(source, "email", contact.lower(), template))
    if source.type in ESCALATION_TEMPLATES:
        template = ESCALATION_TEMPLATES[source.type]
        for recipient in sorted({r.lower() for r in recipients}):
            out.append(_planned(source, "email", recipient, template))
    for subscription in subscriptions:
        if subscription.account == source.account and subscription.wants(source.type):
            out.append(_planned(source, "webhook", subscription.id, source.type))
    return out
