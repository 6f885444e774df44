"""One renderer per channel: what a planned notification says. Email renders the event's
template (the account's override when it has one) once per event, every recipient getting the
same text; a webhook's body is the JSON document receivers verify and parse."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from services.notify.adapters.templates import Templates
from services.notify.domain.notifications import Content, Override
from services.notify.domain.routing import PlannedNotification


class EmailRenderer:
    def __init__(self, templates: Templates) -> None:
        self._templates = templates

    def templates(self, planned: Sequence[PlannedNotification]) -> set[str]:
        return {item.template for item in planned}

    async def render(
        self,
        planned: Sequence[PlannedNotification],
        ticket: Mapping[str, Any],
        overrides: Mapping[str, Override | None],
    ) -> dict[uuid.UUID, Content]:
        """The templates render from a copy of the context: the event stays as published."""
        if not planned:
            return {}
        source = planned[0].source
        context = {"ticket": ticket, "event": source.body, "account": source.account}
        rendered = {
            name: await self._templates.render(name, context, overrides.get(name))
            for name in sorted(self.templates(planned))
        }
        out: dict[uuid.UUID, Content] = {}
        for item in planned:
            email = rendered[item.template]
            out[item.id] = (email.subject, email.body.encode())
        return out


class WebhookRenderer:
    def templates(self, planned: Sequence[PlannedNotification]) -> set[str]:
        return set()

    async def render(
        self,
        planned: Sequence[PlannedNotification],
        ticket: Mapping[str, Any],
        overrides: Mapping[str, Override | None],
    ) -> dict[uuid.UUID, Content]:
        return {item.id: ("", _payload(item, ticket)) for item in planned}


def _payload(item: PlannedNotification, ticket: Mapping[str, Any]) -> bytes:
    source = item.source
    return orjson.dumps(
        {
            "id": str(item.id),
            "type": source.type,
            "ticket_id": source.ticket_id,
            "ticket_number": ticket.get("number"),
            "account": source.account,
            "event": source.body,
        }
    )
