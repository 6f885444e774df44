"""Sends due notifications: claims a batch (attempt counted, leased), sends them concurrently,
then records each outcome - delivered, retry later with exponential backoff, or dead - and
publishes it on `ticketflow.notifications` (outbox, same transaction).

Recording the outcomes is retried through a database outage for as long as the claim's lease
still covers the batch, so a delivery already made is not made again after a short outage."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
from prometheus_client import Counter, Histogram

from services.common import outbox
from services.common.retrying import Outage
from services.common.transient import is_transient
from services.notify.adapters import store
from services.notify.adapters.store import Attempted
from services.notify.domain.retries import Outcome, RetryPolicy, next_step
from shared.events.notification import NotificationEvent
from shared.topics import NOTIFICATIONS

log = logging.getLogger("ticketflow.notify.delivery")
SERVICE = "notify"
ATTEMPTS = Counter(
    "ticketflow_notification_attempts_total", "Delivery attempts", ["channel", "result"]
)
DELIVERY_SECONDS = Histogram(
    "ticketflow_notification_delivery_seconds",
    "Time from logging a notification to its delivery",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)


class Email(Protocol):
    async def send(
        self, notification_id: uuid.UUID, recipient: str, subject: str, body: str
    ) -> Outcome: ...


class Webhooks(Protocol):
    async def send(
        self,
        notification_id: uuid.UUID,
        url: str,
        secret: str,
        event_type: str,
        body: bytes,
        timestamp: int,
    ) -> Outcome: ...


class Deliverer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        email: Email,
        webhooks: Webhooks,
        clock: Callable[[], datetime],
        retry: RetryPolicy,
        *,
        batch_size: int = 200,
        lease: timedelta = timedelta(minutes=2),
        concurrency: int = 16,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._email = email
        self._webhooks = webhooks
        self._clock = clock
        self._retry = retry
        self._batch_size = batch_size
        self._lease = lease
        self._on_commit = on_commit
        self._slots = asyncio.Semaphore(concurrency)

    async def _send(self, row: Any, now: datetime) -> Outcome:
        async with self._slots:
            return await self._send_now(row, now)

    async def _send_now(self, row: Any, now: datetime) -> Outcome:
        if row["channel"] == "email":
            return await self._email.send(
                row["id"], row["recipient"], row["subject"], bytes(row["body"]).decode()
            )
        if row["url"] is None:
            return Outcome(False, "webhook subscription disabled", permanent=True)
        return await self._webhooks.send(
            row["id"],
            row["url"],
            row["secret"],
            row["source_type"],
            bytes(row["body"]),
            int(now.timestamp()),
        )

    async def run_due(self, now: datetime) -> int:
        """Claim a batch, send it, and record each outcome as soon as its send finished
        (sends that finish while a record is being written share the next one): a crash
        leaves at most the sends in flight unrecorded, to be sent again after the lease,
        not the whole batch."""
        claimed_at = time.monotonic()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await store.claim(conn, now, now + self._lease, self._batch_size)
        if not rows:
            return 0
        finished: list[tuple[Any, Outcome]] = []
        recording = asyncio.Lock()

        async def deliver(row: Any) -> None:
            finished.append((row, await self._send(row, now)))
            async with recording:
                if finished:
                    group = finished[:]
                    finished.clear()
                    await self._record_group(group, claimed_at)

        await asyncio.gather(*(deliver(row) for row in rows))
        return len(rows)

    async def _record_group(self, group: list[tuple[Any, Outcome]], claimed_at: float) -> None:
        done = self._clock()
        results: list[Attempted] = []
        records: list[tuple[str, dict[str, Any], str]] = []
        for row, outcome in group:
            attempted, event = self._judge(row, outcome, done)
            results.append(attempted)
            records.append((row["ticket_id"], event.model_dump(mode="json"), event.type))
        await self._record(records, results, done, claimed_at=claimed_at)
        self._on_commit()

    async def _record(
        self,
        records: list[tuple[str, dict[str, Any], str]],
        results: list[Attempted],
        done: datetime,
        *,
        claimed_at: float,
    ) -> None:
        """Write the outcomes and their events; while the database is unreachable, retry for
        half the lease (after that another pass may claim the rows again: raise)."""
        give_up_at = claimed_at + self._lease.total_seconds() / 2
        outage = Outage("notify delivery log", log)
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await outbox.append_many(conn, SERVICE, NOTIFICATIONS.name, records)
                    await store.finish(conn, results, done)
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() >= give_up_at:
                    raise
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.succeeded()
            return

    def _judge(
        self, row: Any, outcome: Outcome, done: datetime
    ) -> tuple[Attempted, NotificationEvent]:
        """Delivered, retry later (exponential backoff) or dead; logged and counted."""
        step = next_step(outcome, row["attempts"], self._retry)
        retry_at = done + self._retry.delay_after(row["attempts"])
        ATTEMPTS.labels(row["channel"], step).inc()
        if step == "delivered":
            DELIVERY_SECONDS.labels(row["channel"]).observe(
                (done - row["created_at"]).total_seconds()
            )
        else:
            log.log(
                logging.ERROR if step == "dead" else logging.WARNING,
                "%s %s to %s attempt %d failed (%s): %s",
                row["channel"],
                row["id"],
                row["recipient"],
                row["attempts"],
                "dead-lettered" if step == "dead" else f"retry at {retry_at:%H:%M:%S}",
                outcome.error,
            )
        attempted = Attempted(
            row["id"],
            "pending" if step == "retry" else step,
            retry_at if step == "retry" else None,
            outcome.error,
        )
        return attempted, _outcome_event(row, step, done, outcome.error)

    async def next_due(self) -> datetime | None:
        return await store.next_due(self._pool)


def _outcome_event(row: Any, step: str, at: datetime, error: str | None) -> NotificationEvent:
    kind = {"delivered": "notification.delivered", "retry": "notification.failed"}.get(
        step, "notification.dead"
    )
    return NotificationEvent(
        id=uuid.uuid5(row["id"], f"{kind}|{row['attempts']}"),
        type=kind,
        notification_id=row["id"],
        ticket_id=row["ticket_id"],
        account=row["account"],
        channel=row["channel"],
        recipient=row["recipient"],
        template=row["template"],
        source_event_id=row["source_event_id"],
        source_type=row["source_type"],
        attempt=row["attempts"],
        at=at,
        error=error,
    )
