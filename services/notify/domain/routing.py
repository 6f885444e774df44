"""Who is told what: the notifications an incoming event asks for. Pure; the consumer renders
and stores them, the deliverer sends them.

Each channel has a routing rule (`Route`) registered with it in `bootstrap.py`: given the
event and its `Audience`, the recipients it tells and with which template. Email tells people
(`to_people`), a webhook tells subscriptions (`to_subscriptions`); a new channel that tells the
same people reuses a rule, one that reaches a new kind of recipient adds its own here.

Billing events are about the account, not one ticket: the prepaid and TAM ones that change
what support the account gets (`ACCOUNT_TEMPLATES`) tell the account's approved contacts, the
people authorised to deal with support for it (intake's `contacts`, role `approved`); an
account that lists none is told through the contact of the ticket whose work caused the event.
Escalation contacts are not told: they are the provider's people on the escalation matrix."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.events.notification import notification_id
from shared.events.types import TicketEventType

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
# Billing events that tell the account's contacts, and the template that does (charges and
# the TAM budget warning are not emailed; webhook subscribers get every billing type they ask
# for, like any other event).
ACCOUNT_TEMPLATES = {
    "prepaid.low": "prepaid_low",
    "prepaid.exhausted": "prepaid_exhausted",
    "tam.budget_exhausted": "tam_budget_exhausted",
}
TEMPLATES = (
    *CONTACT_TEMPLATES.values(),
    "severity_downgraded",
    *ESCALATION_TEMPLATES.values(),
    *ACCOUNT_TEMPLATES.values(),
)


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
class Audience:
    """Who may be told about one event: the ticket's contact, the escalation level's
    recipients (escalation events), the account's active webhook subscriptions and, for the
    events that tell the account (`tells_account`), its approved contacts."""

    contact: str | None = None
    recipients: Sequence[str] = ()
    subscriptions: Sequence[Subscription] = ()
    account_contacts: Sequence[str] = ()


Route = Callable[[Source, Audience], list[tuple[str, str]]]
"""A channel's routing rule: the (recipient, template) pairs an event is sent to."""


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    id: uuid.UUID
    channel: str
    recipient: str
    template: str
    source: Source


def contact_template(source: Source) -> str | None:
    if source.type in CONTACT_TEMPLATES:
        return CONTACT_TEMPLATES[source.type]
    if source.type == TicketEventType.SEVERITY_CHANGED and source.origin == "sla":
        return "severity_downgraded"
    return None


def tells_account(source: Source) -> bool:
    """Whether the event tells the account's contacts (the planner reads them only then)."""
    return source.type in ACCOUNT_TEMPLATES


def to_people(source: Source, audience: Audience) -> list[tuple[str, str]]:
    """The ticket's contact (ticket events), the escalation level's recipients (escalation
    events), or the account's approved contacts (the billing events of `ACCOUNT_TEMPLATES`;
    the ticket's contact when the account lists none), addresses lower-cased: the email
    channel's rule."""
    out: list[tuple[str, str]] = []
    template = contact_template(source)
    if template is not None and audience.contact:
        out.append((audience.contact.lower(), template))
    if source.type in ESCALATION_TEMPLATES:
        template = ESCALATION_TEMPLATES[source.type]
        out.extend((r, template) for r in sorted({r.lower() for r in audience.recipients}))
    if tells_account(source):
        template = ACCOUNT_TEMPLATES[source.type]
        people = {c.lower() for c in audience.account_contacts if c}
        if not people and audience.contact:
            people = {audience.contact.lower()}
        out.extend((person, template) for person in sorted(people))
    return out


def to_subscriptions(source: Source, audience: Audience) -> list[tuple[str, str]]:
    """Every subscription of the account that wants the event type, the event type as
    template: the webhook channel's rule."""
    return [
        (subscription.id, source.type)
        for subscription in audience.subscriptions
        if subscription.account == source.account and subscription.wants(source.type)
    ]


def plan(
    source: Source, audience: Audience, routes: Mapping[str, Route]
) -> list[PlannedNotification]:
    """What each channel's rule (`routes`, by channel name) sends the event to. Ids are
    deterministic (event, recipient, channel), so planning the same event twice plans
    nothing new."""
    return [
        PlannedNotification(
            notification_id(source.event_id, recipient, channel),
            channel,
            recipient,
            template,
            source,
        )
        for channel, route in routes.items()
        for recipient, template in route(source, audience)
    ]
