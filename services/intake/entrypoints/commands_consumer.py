"""Consumes `ticketflow.ticket-commands` and applies them to the event store, once each.

Through a database or broker outage the consumer keeps its place: a command whose handling
failed because the database (or the dead-letter topic) is unreachable is tried again, after
a capped exponential backoff, until it succeeds; offsets are committed only after a batch's
effects. A command that fails for any other reason is dead-lettered and its neighbours go on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaError
from pydantic import ValidationError

from services.common.dead_letters import dead_letter
from services.intake.adapters.backoff import Backoff
from services.intake.adapters.event_store import EventStore, TicketNotFound
from services.intake.adapters.heartbeat import Heartbeat
from services.intake.adapters.outage import database_unavailable
from services.intake.domain.commands import event_for
from shared.commands import TicketCommand

log = logging.getLogger("ticketflow.intake.commands")

SERVICE = "intake"


class CommandConsumer:
    def __init__(
        self,
        store: EventStore,
        consumer: Any,
        producer: Any,
        *,
        backoff: Backoff | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._store = store
        self._consumer = consumer
        self._producer = producer
        self._backoff = backoff or Backoff()
        self.heartbeat = heartbeat or Heartbeat("commands")
        self.outcomes: dict[str, int] = {}

    async def handle(self, message: Any) -> str:
        try:
            command = TicketCommand.from_value(message.value or b"")
        except ValidationError as exc:
            await dead_letter(self._producer, message, str(exc), "invalid_command", service=SERVICE)
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
            await dead_letter(
                self._producer, message, "no such ticket", "unknown_ticket", service=SERVICE
            )
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
            try:
                batch = await self._consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    for message in messages:
                        if not await self._handle_retrying(message, stop):
                            return  # stopped mid-batch: uncommitted, redelivered, deduplicated
                if batch:
                    await self._consumer.commit()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the broker: fetch or commit failed; start over
                self.heartbeat.failed(error)
                delay = self._backoff.next_delay()
                log.warning("command consumer: %s; retry in %.2fs", error, delay)
                if await _wait(stop, delay):
                    return
                continue
            self._backoff.reset()
            self.heartbeat.beat()

    async def _handle_retrying(self, message: Any, stop: asyncio.Event) -> bool:
        """Handle `message`, waiting out outages; False when `stop` came first."""
        while True:
            try:
                try:
                    await self.handle(message)
                except Exception as error:
                    if _outage(error):
                        raise
                    await self._unprocessable(message, error)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as error:  # an outage (or the dead-letter topic failed): retry
                self.heartbeat.failed(error)
                delay = self._backoff.next_delay()
                log.warning(
                    "command at %s[%s]@%s: %s; retry in %.2fs",
                    message.topic,
                    message.partition,
                    message.offset,
                    error,
                    delay,
                )
                if await _wait(stop, delay):
                    return False

    async def _unprocessable(self, message: Any, error: Exception) -> None:
        log.exception(
            "command at %s[%s]@%s cannot be applied; dead-lettered",
            message.topic,
            message.partition,
            message.offset,
            exc_info=error,
        )
        await dead_letter(
            self._producer, message, f"{type(error).__name__}: {error}", "failed", service=SERVICE
        )
        self.outcomes["dead_lettered"] = self.outcomes.get("dead_lettered", 0) + 1


def _outage(error: BaseException) -> bool:
    return database_unavailable(error) or isinstance(error, KafkaError)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except TimeoutError:
        return False
