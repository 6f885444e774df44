"""Opening a ticket and appending its events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.intake.domain.errors import Refused, TicketNumberTaken, Unavailable
from services.intake.domain.event_checks import check_event
from services.intake.domain.opening import OpenTicket, Refusal, decide_open, event_time
from services.intake.domain.ticket_number import new_ticket_number
from services.intake.domain.tickets import TicketRow
from services.intake.service_layer.ports import Ports
from shared.calendar import month_of
from shared.events import Envelope
from shared.events.types import Channel
from shared.policy import Policy

NUMBER_ATTEMPTS = 3


def when(requested: datetime | None, now: datetime, field: str = "occurred_at") -> datetime:
    """The event time of a new event (`event_time`); Refused naming `field`."""
    try:
        return event_time(requested, now, field)
    except Refusal as refusal:
        raise Refused("Invalid event time", str(refusal), field) from None


async def open_ticket(ports: Ports, command: OpenTicket) -> Envelope:
    """Decide and store a new ticket: its recorded `ticket.opened`. Refused when the policy
    refuses it (saying why and what to do), UnknownAccount, Unavailable when no free ticket
    number was drawn."""
    account = await ports.accounts.get(command.account)
    policy = ports.policies[account.policy_id]
    tam_exhausted = await _tam_used_up(ports, command, policy)
    for _attempt in range(NUMBER_ATTEMPTS):
        try:
            envelope = decide_open(
                command,
                account,
                policy,
                now=ports.now(),
                ticket_id=ports.new_ticket_id(),
                number=new_ticket_number(ports.random_digits),
                tam_exhausted=tam_exhausted,
            )
        except Refusal as refusal:
            raise Refused("Ticket refused", str(refusal), refusal.field, policy.ref) from None
        try:
            return await ports.store.open_ticket(envelope)
        except TicketNumberTaken:
            continue  # a ticket number collision: draw another
    raise Unavailable("Try again", "could not allocate a ticket number")


async def _tam_used_up(ports: Ports, command: OpenTicket, policy: Policy) -> bool:
    """A TAM-channel ticket of a policy with TAM hours: are the month's hours used up?"""
    tam = policy.spec.tam
    if command.channel != Channel.TAM or tam is None:
        return False
    month = month_of(command.occurred_at or ports.now(), tam.timezone)
    return await ports.accounts.tam_exhausted(command.account, month)


async def append_event(
    ports: Ports,
    ticket_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    *,
    occurred_at: datetime | None,
    expected_version: int | None,
    accounts: frozenset[str],
) -> tuple[Envelope, str]:
    """Append one event a client posted: the recorded event and the ticket's status after it.
    The event is checked against the ticket's pinned policy (EventRefused) and its status
    (TransitionRefused) inside the store's transaction; VersionConflict when the ticket is
    not at `expected_version`; TicketNotFound outside `accounts`."""
    at = when(occurred_at, ports.now())

    def build(ticket: TicketRow) -> Envelope:
        # the pinned policy's id; a newer version of it stands in for a retired one
        policy = ports.policies.get(ticket.policy.partition("@")[0])
        if policy is not None:
            check_event(policy, ticket, event_type, data)
        return ticket.next_event(event_type, at, data)

    return await ports.store.append_with_status(ticket_id, build, expected_version, accounts)
