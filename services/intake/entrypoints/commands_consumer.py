"""Consumes `ticketflow.ticket-commands` and applies them to the event store, once each.

The loop is the common one (`services/common/consumer.py`): through a database or broker
outage it keeps its place and retries the same command with a capped exponential backoff;
offsets are committed only after a batch's effects; a command that cannot be read, names no
ticket, or fails for any other reason is dead-lettered and its neighbours go on. While an
outage lasts the supervised task is failing, which `/readyz` reports.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from services.common.backoff import Backoff
from services.common.consumer import BadMessage, ConsumerLoop
from services.intake.domain.errors import TicketNotFound
from services.intake.service_layer.commands import apply_command
from services.intake.service_layer.ports import CommandLog
from shared.commands import TicketCommand

log = logging.getLogger("ticketflow.intake.commands")

SERVICE = "intake"


class CommandConsumer:
    def __init__(
        self,
        store: CommandLog,
        consumer: Any,
        producer: Any,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self.outcomes: dict[str, int] = {}
        retry = backoff or Backoff()
        self._loop = ConsumerLoop(
            SERVICE,
            consumer,
            producer,
            self.handle,
            retry_s=retry.initial,
            max_retry_s=retry.cap,
        )

    async def handle(self, message: Any) -> str:
        """Apply one command record: its outcome; BadMessage when it cannot be."""
        try:
            command = TicketCommand.from_value(message.value or b"")
        except ValidationError as exc:
            raise BadMessage("invalid_command", str(exc)) from None
        try:
            outcome, detail = await apply_command(self._store, command)
        except TicketNotFound:
            raise BadMessage("unknown_ticket", "no such ticket") from None
        log.log(
            logging.INFO if outcome == "applied" else logging.WARNING,
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
        await self._loop.run(stop)
