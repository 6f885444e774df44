"""Turns one incoming event into logged notifications, in one transaction with the consumer's
tracking row: a redelivered event finds its row (and the deterministic notification ids)
and sends nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from prometheus_client import Counter

from services.common.tracking import first_time
from services.notify.adapters import store
from services.notify.adapters.store import NewNotification
from services.notify.adapters.templates import Templates
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
        """`opened`: the ticket's facts when the event opens it (contact, number, subject)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, SERVICE, source.event_id):
                return "duplicate"
            if opened is not None:
                await store.remember_ticket(
                    conn,
                    source.ticket_id,
                    source.account,
                    opened.get("ticket_number"),
                    opened.get("contact"),
                    opened.get("subject"),
                    opened.get("priority"),
                )
            ticket = await store.ticket(conn, source.ticket_id)
            subscriptions = await store.subscriptions(conn, source.account)
            planned = plan(source, ticket.get("contact"), recipients or [], subscriptions)
            rows = [await self._render(conn, item, ticket) for item in planned]
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
        self, conn: asyncpg.Connection, item: Planned, ticket: dict[str, Any]
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
            override = await store.template_override(conn, source.account, item.template)
            context = {"ticket": ticket, "event": source.body, "account": source.account}
            rendered = self._templates.render(item.template, context, override)
            subject, body = rendered.subject, rendered.body.encode()
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
