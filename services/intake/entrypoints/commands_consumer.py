"""Consumes `ticketflow.ticket-commands` and applies them to the event store, once each."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from services.common.dead_letters import dead_letter
from services.intake.adapters.event_store import EventStore, TicketNotFound
from services.intake.domain.commands import event_for
from shared.commands import TicketCommand

log = logging.getLogger("ticketflow.intake.commands")


class CommandConsumer:
    def __init__(self, store: EventStore, consumer: Any, producer: Any) -> None:
        self._store = store
        self._consumer = consumer
        self._producer = producer
        self.outcomes: dict[str, int] = {}

    async def handle(self, message: Any) -> str:
        try:
            command = TicketCommand.from_value(message.value or b"")
        except ValidationError as exc:
            await dead_letter(self._producer, message, str(exc), "invalid_command")
            return "dead_lettered"
        try:
            outcome, detail = await self._store.apply_command(
                command.id,
                command.type,
                command.ticket_id,
                command.based_on_version,
                lambda ticket: event_for(command, ticket),
            )
        except TicketNotFound:
            await dead_letter(self._producer, message, "no such ticket", "unknown_ticket")
            return "dead_lettered"
        log_level = logging.INFO if outcome == "applied" else logging.WARNING
        log.log(
            log_level,
            "command %s %s on ticket %s: %s (%s)",
            command.id,
            command.type,
            command.ticket_id,
            outcome,
            detail,
        )
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome

    async def run(self, stop: asyncio.Event) -> None:
        """Handle batches until `stop`; offsets are committed after each batch's effects."""
        while not stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    await self.handle(message)
            if batch:
                await self._consumer.commit()
