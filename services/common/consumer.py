"""A Kafka consumer loop shared by the services (escalation, notify, intake's commands).

Each message is handled by a function that applies its effect in one database transaction with
a tracking row (so redelivery is harmless); offsets are committed after the batch. A message
the handler cannot understand goes to `<topic>.dlq` and the partition moves on; a database or
network outage retries the same message (with backoff) instead of dead-lettering good data;
so does a broker outage while fetching, dead-lettering or committing. Each outage is logged
when it starts and when it ends, not at every retry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiokafka.errors import CommitFailedError, IllegalStateError
from prometheus_client import Counter, Gauge

from services.common import health, logs, tracing
from services.common.backoff import Backoff
from services.common.dead_letters import dead_letter
from services.common.retrying import Outage
from services.common.transient import TRANSIENT, is_transient
from services.common.waiting import wait_for_either

log = logging.getLogger("ticketflow.consumer")

CONSUMED = Counter(
    "ticketflow_consumed_total", "Messages handled, by outcome", ["service", "topic", "outcome"]
)
LAG = Gauge(
    "ticketflow_consumer_lag",
    "Records on the partition after the last one this consumer handled (the highwater its "
    "last fetch reported minus its position), as of its last batch from the partition",
    ["service", "topic", "partition"],
)
__all__ = ["TRANSIENT", "BadMessage", "ConsumerLoop", "Handler", "Progress"]


class BadMessage(ValueError):
    """The message cannot be processed as it is: dead-letter it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


Handler = Callable[[Any], Awaitable[str]]


class Progress(Protocol):
    """A loop's sign of life for a supervisor: `beat()` after a good pass, `failed()` when a
    pass failed and is being retried (the beat goes stale while an outage lasts)."""

    def beat(self) -> None: ...

    def failed(self, error: BaseException) -> None: ...


class ConsumerLoop:
    def __init__(
        self,
        service: str,
        consumer: Any,
        producer: Any,
        handle: Handler,
        *,
        retry_s: float = 0.2,
        max_retry_s: float = 10.0,
        progress: Progress | None = None,
        parallel_partitions: bool = False,
    ) -> None:
        """`parallel_partitions`: handle a batch's partitions at the same time, each one's
        messages in order (for a handler whose transactions of different keys do not wait on
        each other for long; the batch is committed once all of them are done)."""
        self._service = service
        self._parallel = parallel_partitions
        self._progress = progress
        self._consumer = consumer
        self._producer = producer
        self._handle = handle
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._handling = Outage(f"{service} consumer handling", log, self._backoff())
        self._polling = Outage(f"{service} consumer fetch/commit", log, self._backoff())
        self._uncommitted = False
        self._lagged: set[tuple[str, int]] = set()

    def _backoff(self) -> Backoff:
        return Backoff(initial=self._retry_s, cap=self._max_retry_s)

    async def handle_one(self, message: Any, stop: asyncio.Event) -> str:
        """Apply one message; retry it while the database or broker is unreachable (raises
        the transient error only if `stop` is set meanwhile: the message stays uncommitted).
        Lines logged meanwhile name its ticket, event and trace."""
        with logs.about(**record_ids(message)):
            return await self._until_handled(message, stop)

    async def _until_handled(self, message: Any, stop: asyncio.Event) -> str:
        while True:
            try:
                outcome = await self._outcome(message)
            except Exception as exc:
                if not is_transient(exc) or stop.is_set():
                    raise
                delay = self._handling.failed(exc)
                if self._progress is not None:
                    self._progress.failed(exc)
                log.debug(
                    "%s: %s at %s[%s]@%s; retrying in %.1fs",
                    self._service,
                    exc,
                    message.topic,
                    message.partition,
                    message.offset,
                    delay,
                )
                await wait_for_either(stop, None, delay)
                continue
            self._handling.succeeded()
            CONSUMED.labels(self._service, message.topic, outcome).inc()
            return outcome

    async def _outcome(self, message: Any) -> str:
        """The handler's outcome, or "dead_lettered" once the message is in its DLQ. Traced,
        the handler runs in a span continuing the record's `ce_traceparent`."""
        if not tracing.enabled():
            return await self._handled(message)
        with tracing.span(
            f"{message.topic} process",
            parent=tracing.header_context(message.headers),
            kind=tracing.SpanKind.CONSUMER,
            attributes=consumed_attributes(self._service, message),
        ) as span:
            outcome = await self._handled(message)
            span.set_attribute("ticketflow.outcome", outcome)
            if outcome == "dead_lettered":
                tracing.failed(span, "dead-lettered")
            return outcome

    async def _handled(self, message: Any) -> str:
        try:
            return await self._handle(message)
        except BadMessage as exc:
            await dead_letter(self._producer, message, str(exc), exc.reason, service=self._service)
        except Exception as exc:
            if is_transient(exc):
                raise
            # one bad record must not stop the partition
            log.exception("%s: unexpected error; dead-lettering the message", self._service)
            await dead_letter(self._producer, message, repr(exc), "error", service=self._service)
        return "dead_lettered"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once(stop)
            except Exception as exc:
                if stop.is_set():
                    return
                if not is_transient(exc) and not _rebalanced(exc):
                    raise
                if self._progress is not None:
                    self._progress.failed(exc)
                await wait_for_either(stop, None, self._polling.failed(exc))
                continue
            self._polling.succeeded()  # and a heartbeat
            if self._progress is not None:
                self._progress.beat()

    async def poll_once(self, stop: asyncio.Event) -> int:
        """Fetch a batch, handle each message, commit (also what a failed commit left
        uncommitted); the number of messages handled."""
        batch = await self._consumer.getmany(timeout_ms=200)
        if self._parallel and len(batch) > 1:
            try:
                async with asyncio.TaskGroup() as group:  # one failure cancels the others
                    drained = [group.create_task(self._drain(m, stop)) for m in batch.values()]
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None  # what the loop would have met in order
            handled = sum(task.result() for task in drained)
        else:
            handled = 0
            for messages in batch.values():
                handled += await self._drain(messages, stop)
        if batch:
            self._uncommitted = True
            self._lag(batch)
        self._forget_revoked()
        if self._uncommitted:
            await self._consumer.commit()
            self._uncommitted = False
        return handled

    def _lag(self, batch: dict[Any, list[Any]]) -> None:
        """The lag metric of the batch's partitions. The highwater is the one fetch responses
        report (the bundled broker's ListOffsets answer is short after a multi-record
        produce); a consumer without one (a test double) reports nothing."""
        highwater = getattr(self._consumer, "highwater", None)
        if highwater is None:
            return
        for tp, messages in batch.items():
            end = highwater(tp)
            if not isinstance(end, int) or not messages:
                continue
            behind = max(0, end - (messages[-1].offset + 1))
            LAG.labels(self._service, tp.topic, str(tp.partition)).set(behind)
            self._lagged.add((tp.topic, tp.partition))

    def _forget_revoked(self) -> None:
        """Drop the lag of partitions this consumer no longer holds (a rebalance moved them):
        their new owner reports them, and a frozen copy here would add to its figure."""
        assignment = getattr(self._consumer, "assignment", None)
        if not self._lagged or assignment is None:
            return
        held = {(tp.topic, tp.partition) for tp in assignment()}
        for topic, partition in self._lagged - held:
            LAG.remove(self._service, topic, str(partition))
            self._lagged.discard((topic, partition))

    async def _drain(self, messages: list[Any], stop: asyncio.Event) -> int:
        """One partition's messages of the batch, in order."""
        for message in messages:
            await self.handle_one(message, stop)
            health.beat()
        return len(messages)


def consumed_attributes(service: str, message: Any) -> dict[str, Any]:
    """What a consumer span says of its record: topic, partition, offset, and the ticket
    and event it is about (from the CloudEvents headers)."""
    headers = {name: raw for name, raw in message.headers or () if name in _NAMED}
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.destination.name": message.topic,
        "messaging.operation.type": "process",
        "messaging.kafka.partition": message.partition,
        "messaging.kafka.offset": message.offset,
        "ticketflow.service": service,
    }
    for header, attribute in _NAMED.items():
        raw = headers.get(header)
        if isinstance(raw, bytes):
            attributes[attribute] = raw.decode(errors="replace")
    return attributes


def record_ids(message: Any) -> dict[str, str | None]:
    """The ticket, event and trace a record is about (its CloudEvents headers), for logs."""
    found: dict[str, str | None] = dict.fromkeys(_LOGGED.values())
    for key, raw in message.headers or ():  # one pass over the headers
        name = _LOGGED.get(key)
        if name is not None and isinstance(raw, bytes):
            found[name] = raw.decode(errors="replace")
    return found


_LOGGED = {"ce_subject": "ticket_id", "ce_id": "event_id", "ce_traceparent": "traceparent"}
_NAMED = {
    "ce_subject": "ticketflow.ticket_id",
    "ce_id": "ticketflow.event_id",
    "ce_type": "ticketflow.event_type",
}


def _rebalanced(exc: BaseException) -> bool:
    """A commit refused because the group rebalanced: the new owner gets the messages again
    (handlers are idempotent), so the loop just goes on."""
    return isinstance(exc, CommitFailedError | IllegalStateError)
