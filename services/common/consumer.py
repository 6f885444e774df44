"""A Kafka consumer loop shared by the escalation and notify services.

Each message is handled by a function that applies its effect in one database transaction with
a tracking row (so redelivery is harmless); offsets are committed after the batch. A message
the handler cannot understand goes to `<topic>.dlq` and the partition moves on; a database or
network outage retries the same message (with backoff) instead of dead-lettering good data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import Counter

from services.common.dead_letters import dead_letter

log = logging.getLogger("ticketflow.consumer")

CONSUMED = Counter(
    "ticketflow_consumed_total", "Messages handled, by outcome", ["service", "topic", "outcome"]
)
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


class BadMessage(ValueError):
    """The message cannot be processed as it is: dead-letter it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


Handler = Callable[[Any], Awaitable[str]]


class ConsumerLoop:
    def __init__(
        self, service: str, consumer: Any, producer: Any, handle: Handler, *, retry_s: float = 1.0
    ) -> None:
        self._service = service
        self._consumer = consumer
        self._producer = producer
        self._handle = handle
        self._retry_s = retry_s

    async def handle_one(self, message: Any, stop: asyncio.Event) -> str:
        delay = self._retry_s
        while True:
            try:
                outcome = await self._handle(message)
            except BadMessage as exc:
                await dead_letter(self._producer, message, str(exc), exc.reason)
                outcome = "dead_lettered"
            except TRANSIENT as exc:
                log.warning(
                    "%s: %s at %s[%s]@%s; retrying in %.0fs",
                    self._service,
                    exc,
                    message.topic,
                    message.partition,
                    message.offset,
                    delay,
                )
                if stop.is_set():
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except Exception as exc:  # one bad record must not stop the partition
                log.exception("%s: unexpected error; dead-lettering the message", self._service)
                await dead_letter(self._producer, message, repr(exc), "error")
                outcome = "dead_lettered"
            CONSUMED.labels(self._service, message.topic, outcome).inc()
            return outcome

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for message in messages:
                    await self.handle_one(message, stop)
            if batch:
                await self._consumer.commit()
