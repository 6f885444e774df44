"""Turns one incoming event into logged notifications, in one transaction with the consumer's
tracking row: a redelivered event finds its row (and the deterministic notification ids)
and sends nothing twice. Emails are rendered before that transaction, outside it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from prometheus_client import Counter

from services.common.tracking import first_time
from services.notify.adapters import store
from services.notify.adapters.store import NewNotification
from services.notify.adapters.templates import Rendered, Templates
from services.notify.domain.routing import Planned, Source, plan

log = logging.getLogger("ticketflow.notify")
SERVICE = "notify"
PLANNED = Counter("ticketflow_notifications_planned_total", "Notifications logged", ["channel"])


class Planner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        templates: Templates,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._templates = templates
        self._clock = clock
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
        async with self._pool.acquire() as conn:
            if await _seen(conn, source.event_id):
                return "duplicate"
            known = await store.ticket(conn, source.ticket_id)
            subscriptions = await store.subscriptions(conn, source.account)
            ticket = _with_number(
                _merged(known, source, facts if opened is not None else None), source
            )
            planned = plan(source, ticket.get("contact"), recipients or [], subscriptions)
            names = sorted({item.template for item in planned if item.channel == "email"})
            overrides = {
                name: await store.template_override(conn, source.account, name) for name in names
            }
        rendered = await self._render(source, ticket, overrides)
        rows = [self._row(item, ticket, rendered) for item in planned]
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, SERVICE, source.event_id):
                return "duplicate"
            if opened is not None:
                await store.remember_ticket(
                    conn,
                    source.ticket_id,
                    source.account,
                    facts["number"],
                    facts["contact"],
                    facts["subject"],
                    facts["priority"],
                )
            added = await store.insert(conn, rows, self._clock())
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

    async def _render(
        self,
        source: Source,
        ticket: dict[str, Any],
        overrides: dict[str, tuple[str, str] | None],
    ) -> dict[str, Rendered]:
        """Each email template once (every recipient of an event gets the same text). The
        templates render from a copy of this context: the event stays as published."""
        context = {"ticket": ticket, "event": source.body, "account": source.account}
        return {
            name: await self._templates.render(name, context, override)
            for name, override in overrides.items()
        }

    @staticmethod
    def _row(
        item: Planned, ticket: dict[str, Any], rendered: dict[str, Rendered]
    ) -> NewNotification:
        source = item.source
        if item.channel == "webhook":
            subject = ""
            body = orjson.dumps(
                {
                    "id": str(item.id),
                    "type": source.type,
                    "ticket_id": source.ticket_id,
                    "ticket_number": ticket.get("number"),
                    "account": source.account,
                    "event": source.body,
                }
            )
        else:
            email = rendered[item.template]
            subject, body = email.subject, email.body.encode()
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


async def _seen(conn: asyncpg.Connection, event_id: uuid.UUID) -> bool:
    """Whether the tracking row is there already (read only; `first_time` decides)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)",
        SERVICE,
        event_id,
    )
    return found


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
    """notify's row of the ticket as `store.remember_ticket` will leave it (a fact given
    replaces the stored one, a missing fact keeps it); `facts` None: no facts, no change."""
    if facts is None:
        return known
    row: dict[str, Any] = {"ticket_id": source.ticket_id, "account": source.account}
    row.update(dict.fromkeys(TICKET_FACTS))
    row.update(known)
    row.update({key: value for key, value in facts.items() if value is not None})
    return row
