"""An email from the gateway: a reply to a ticket its subject names, or a new ticket."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from services.intake.domain.errors import Refused
from services.intake.domain.inbound_email import parse_subject, strip_reply_prefixes
from services.intake.domain.opening import OpenTicket
from services.intake.domain.ticket_number import find_in
from services.intake.domain.tickets import TicketRow
from services.intake.service_layer.ports import Ports
from services.intake.service_layer.tickets import open_ticket, when
from shared.events import Envelope
from shared.events.types import TicketEventType, TicketStatus


@dataclass(frozen=True, slots=True)
class InboundEmail:
    sender: str
    subject: str
    body: str = ""
    spam: bool = False
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Taken:
    """What an email did: opened a ticket, or added the `event_type` reply or comment."""

    action: Literal["opened", "replied", "commented"]
    ticket_id: uuid.UUID
    number: str
    version: int
    event_type: str


async def take_email(ports: Ports, email: InboundEmail, accounts: frozenset[str]) -> Taken:
    """A subject carrying one of `accounts`' ticket numbers is a reply (a public comment once
    the ticket is closed) from an approved contact; anything else opens a ticket for the one
    account among `accounts` whose approved contact sent it. Refused says why not."""
    when(email.received_at, ports.now(), "received_at")
    sender = email.sender.strip().lower()
    subject = strip_reply_prefixes(email.subject)
    number = find_in(subject)
    ticket = await ports.store.ticket_by_number(number) if number else None
    if ticket is not None and ticket.account_id in accounts:
        return await _reply(ports, ticket, sender, email, accounts)
    matching = await ports.accounts.accounts_approving(sender, accounts)
    if not matching:
        raise Refused(
            "Sender not approved",
            f"{sender} is not an approved contact of any account this gateway serves; no "
            "ticket was opened",
        )
    if len(matching) > 1:
        raise Refused(
            "Ambiguous sender", f"{sender} is a contact of several accounts: {', '.join(matching)}"
        )
    account = await ports.accounts.get(matching[0])
    policy = ports.policies[account.policy_id]
    parsed = parse_subject(subject, policy)
    description = email.body
    if parsed.customer or parsed.location:
        description = f"Customer: {parsed.customer}\nLocation: {parsed.location}\n\n{email.body}"
    opened = await open_ticket(
        ports,
        OpenTicket(
            account=account.id,
            contact=sender,
            channel="email",
            priority=parsed.priority or policy.default_priority or policy.priorities[-1],
            subject=parsed.issue,
            description=description,
            occurred_at=email.received_at,
            spam=email.spam,
        ),
    )
    return Taken(
        "opened", uuid.UUID(opened.subject), opened.data["ticket_number"], 1, TicketEventType.OPENED
    )


async def _reply(
    ports: Ports, ticket: TicketRow, sender: str, email: InboundEmail, accounts: frozenset[str]
) -> Taken:
    account = await ports.accounts.get(ticket.account_id)
    if not account.approves(sender):
        raise Refused("Sender not approved", f"{sender} is not an approved contact of {account.id}")
    closed = ticket.status == TicketStatus.CLOSED
    kind = TicketEventType.COMMENT_ADDED if closed else TicketEventType.CUSTOMER_REPLIED
    data: dict[str, Any] = (
        {"body": email.body or "(empty message)", "public": True}
        if closed
        else {"body": email.body, "contact": sender}
    )
    at = when(email.received_at, ports.now(), "received_at")

    def build(row: TicketRow) -> Envelope:
        return row.next_event(kind, at, data)

    recorded, _status = await ports.store.append_with_status(
        ticket.ticket_id, build, accounts=accounts
    )
    return Taken(
        "commented" if closed else "replied",
        ticket.ticket_id,
        ticket.number,
        recorded.sequence,
        kind,
    )
