"""Deciding whether a ticket may be opened, and the `ticket.opened` event if so."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.events import Envelope
from shared.events.types import Channel, TicketEventType
from shared.policy import Policy
from shared.sla import decide_acceptance

REDIRECTED_TO_SUPPORT_EMAIL = "redirected_to_support_email"
"""Flag of a TAM-channel ticket opened when the month's TAM hours are used up (voximplant 6.3:
"TAM shall be entitled to redirect all Tickets and Client's questions to the Support Center's
Email")."""
MAX_FUTURE_SKEW = timedelta(minutes=2)
MAX_BACKDATE = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    policy_id: str
    plan: str | None = None
    entitled_from: date | None = None
    entitled_until: date | None = None
    approved_contacts: frozenset[str] = frozenset()
    target_overrides: dict[str, float] = field(default_factory=dict)

    def entitled_on(self, day: date) -> bool:
        if self.entitled_from is None and self.entitled_until is None:
            return False
        if self.entitled_from is not None and day < self.entitled_from:
            return False
        return self.entitled_until is None or day <= self.entitled_until

    def approves(self, email: str) -> bool:
        return email.strip().lower() in self.approved_contacts


@dataclass(frozen=True, slots=True)
class OpenTicket:
    account: str
    contact: str
    channel: str
    priority: str
    subject: str
    description: str = ""
    plan: str | None = None
    occurred_at: datetime | None = None
    spam: bool = False


@dataclass
class Refusal(Exception):
    """The policy or the request's own facts refuse the ticket (HTTP 422)."""

    reason: str
    field: str | None = None

    def __str__(self) -> str:
        return self.reason


def event_time(requested: datetime | None, now: datetime, field: str = "occurred_at") -> datetime:
    """The event time of a new event: as given (a phone ticket logged late, an email received
    earlier), within limits; a Refusal names `field`, the request's name for it."""
    if requested is None:
        return now
    if requested.tzinfo is None or requested.utcoffset() is None:
        raise Refusal(f"{field} needs a UTC offset", field)
    if requested > now + MAX_FUTURE_SKEW:
        raise Refusal(f"{field} is in the future", field)
    if requested < now - MAX_BACKDATE:
        raise Refusal(f"{field} is more than {MAX_BACKDATE.days} days in the past", field)
    return requested


def decide_open(
    command: OpenTicket,
    account: Account,
    policy: Policy,
    *,
    now: datetime,
    ticket_id: uuid.UUID,
    number: str,
    tam_exhausted: bool = False,
) -> Envelope:
    """The `ticket.opened` envelope, or Refusal saying why and what to do. `tam_exhausted`:
    the account's TAM hours of the opening's month are used up."""
    at = event_time(command.occurred_at, now)
    plan = command.plan or account.plan
    data: dict[str, Any] = {
        "channel": command.channel,
        "priority": command.priority,
        "plan": plan,
        "spam": command.spam,
        "entitled": account.entitled_on(at.date()),
        "approved_contact": account.approves(command.contact),
        "contact": command.contact.strip().lower(),
        "ticket_number": number,
        "subject": command.subject,
        "description": command.description,
        "target_overrides": dict(account.target_overrides),
    }
    verdict = decide_acceptance(policy, data, at)
    if not verdict.accepted:
        raise Refusal(verdict.rejection or "refused by policy")
    data["flags"] = list(verdict.flags)
    if tam_exhausted and command.channel == Channel.TAM:
        data["flags"].append(REDIRECTED_TO_SUPPORT_EMAIL)
    return Envelope(
        type=TicketEventType.OPENED,
        source="intake",
        subject=str(ticket_id),
        time=at,
        sequence=1,
        account=account.id,
        policy=policy.ref,
        data={key: value for key, value in data.items() if value is not None},
    )
