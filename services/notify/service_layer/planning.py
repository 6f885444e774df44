"""Turns one incoming event into logged notifications, in one transaction with the consumer's
tracking row: a redelivered event finds its row (and the deterministic notification ids)
and sends nothing twice. The content is rendered before that transaction, outside it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from services.notify.domain.notifications import Content, NewNotification
from services.notify.domain.routing import (
    Audience,
    PlannedNotification,
    Source,
    plan,
    tells_account,
)
from services.notify.service_layer.channels import ChannelSpec, by_name
from services.notify.service_layer.ports import PlanningStore

log = logging.getLogger("ticketflow.notify")
SERVICE = "notify"
PLANNED = Counter("ticketflow_notifications_planned_total", "Notifications logged", ["channel"])


class Planner:
    """`channels`: the registered channels (`bootstrap.channels()`); each one's route picks
    its recipients and its renderer says what they are told."""

    def __init__(
        self,
        store: PlanningStore,
        channels: Sequence[ChannelSpec],
        now: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._channels = by_name(channels)
        self._routes = {name: channel.route for name, channel in self._channels.items()}
        self._now = now
        self._on_commit = on_commit

    async def on_event(
        self,
        source: Source,
        *,
        recipients: list[str] | None = None,
        opened: dict[str, Any] | None = None,
    ) -> str:
        """`opened`: the ticket's facts when the event opens it (contact, number, subject).

        Reads, then renders with no connection held (an account template may use its whole
        time budget), then writes the tracking row, the ticket's facts and the notifications
        in one transaction. A redelivery stops at the tracking row, before rendering; one
        racing the first delivery renders again but finds the row in that transaction."""
        facts = _facts(opened)
        async with self._store.reading() as reads:
            if await reads.seen(source.event_id):
                return "duplicate"
            known = await reads.ticket(source.ticket_id)
            subscriptions = await reads.subscriptions(source.account)
            contacts = await reads.account_contacts(source.account) if tells_account(source) else []
            ticket = _with_number(
                _merged(known, source, facts if opened is not None else None), source
            )
            audience = Audience(ticket.get("contact"), recipients or [], subscriptions, contacts)
            planned = plan(source, audience, self._routes)
            by_channel = _by_channel(planned)
            names = sorted(
                {
                    name
                    for channel, items in by_channel.items()
                    for name in self._channels[channel].renderer.templates(items)
                }
            )
            overrides = {
                name: await reads.template_override(source.account, name) for name in names
            }
        content: dict[uuid.UUID, Content] = {}
        for channel, items in by_channel.items():
            renderer = self._channels[channel].renderer
            content.update(await renderer.render(items, ticket, overrides))
        rows = [_row(item, content[item.id]) for item in planned]
        async with self._store.transaction() as writes:
            if not await writes.first_time(source.event_id):
                return "duplicate"
            if opened is not None:
                await writes.remember_ticket(
                    source.ticket_id,
                    source.account,
                    facts["number"],
                    facts["contact"],
                    facts["subject"],
                    facts["priority"],
                )
            added = await writes.insert(rows, self._now())
        for row in rows:
            PLANNED.labels(row.channel).inc()
        if added:
            self._on_commit()
            log.info(
                "%s %s on ticket %s: %d notification(s) queued",
                source.type,
                source.event_id,
                source.ticket_id,
                added,
            )
        return "planned" if added else "nothing_to_send"


def _by_channel(
    planned: list[PlannedNotification],
) -> dict[str, list[PlannedNotification]]:
    out: dict[str, list[PlannedNotification]] = {}
    for item in planned:
        out.setdefault(item.channel, []).append(item)
    return out


def _row(item: PlannedNotification, content: Content) -> NewNotification:
    source = item.source
    subject, body = content
    return NewNotification(
        id=item.id,
        ticket_id=source.ticket_id,
        account=source.account,
        channel=item.channel,
        recipient=item.recipient,
        template=item.template,
        source_event_id=source.event_id,
        source_type=source.type,
        subject=subject,
        body=body,
    )


TICKET_FACTS = ("number", "contact", "subject", "priority")


def _facts(opened: dict[str, Any] | None) -> dict[str, Any]:
    """The ticket facts an event brings (`ticket_number` is stored as `number`)."""
    given = opened or {}
    return {
        "number": given.get("ticket_number"),
        "contact": given.get("contact"),
        "subject": given.get("subject"),
        "priority": given.get("priority"),
    }


def _with_number(ticket: dict[str, Any], source: Source) -> dict[str, Any]:
    """The ticket row, numbered from the event itself when notify has not seen the ticket
    open yet (SLA and escalation records carry `ticket_number`: the ticket topic may lag)."""
    number = source.body.get("ticket_number")
    if ticket.get("number") or not number:
        return ticket
    return {**ticket, "number": number}


def _merged(known: dict[str, Any], source: Source, facts: dict[str, Any] | None) -> dict[str, Any]:
    """notify's row of the ticket as `remember_ticket` will leave it (a fact given replaces
    the stored one, a missing fact keeps it); `facts` None: no facts, no change."""
    if facts is None:
        return known
    row: dict[str, Any] = {"ticket_id": source.ticket_id, "account": source.account}
    row.update(dict.fromkeys(TICKET_FACTS))
    row.update(known)
    row.update({key: value for key, value in facts.items() if value is not None})
    return row
