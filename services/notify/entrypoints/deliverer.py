"""Sends due notifications: claims what fits (attempt counted, leased), starts each send at
once, and records each outcome - delivered, retry later with exponential backoff, or dead -
as soon as that send finished, publishing it on `ticketflow.notifications` (outbox, same
transaction).

Fairness: every webhook subscription and the email channel is a lane with its own cap of
sends in flight (`per_subscription`, `email_concurrency`), webhooks together are capped by
`concurrency` (the connection pool), and claiming does not wait for the sends already in
flight: one account's slow receiver fills its own lane and nothing else. A row is claimed
only when its lane has room, so no claimed row waits in a queue while its lease runs out; a
row in flight is never claimed again by this process.

Recording the outcomes is retried through a database outage for as long as the claim's lease
still covers the rows, so a delivery already made is not made again after a short outage.
A recording that gave up is raised by the next `start_due` (the delivery loop reports it)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
from prometheus_client import Counter, Histogram

from services.common import outbox
from services.common.redaction import redact_url, redact_urls_in
from services.common.retrying import Outage
from services.common.transient import is_transient
from services.notify.adapters import store
from services.notify.adapters.store import EMAIL_LANE, Attempted, Capacity
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
        sealed_secret: str,
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
        concurrency: int = 64,
        per_subscription: int = 4,
        email_concurrency: int = 8,
        on_commit: Callable[[], None] = lambda: None,
        on_capacity: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._email = email
        self._webhooks = webhooks
        self._clock = clock
        self._retry = retry
        self._batch_size = batch_size
        self._lease = lease
        self._concurrency = concurrency
        self._per_subscription = per_subscription
        self._email_concurrency = email_concurrency
        self._on_commit = on_commit
        self.on_capacity = on_capacity
        """Called when a send finished (its lane has room again): the delivery loop's wake."""
        self._in_flight: dict[uuid.UUID, str] = {}
        self._busy: Tally[str] = Tally()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[tuple[Any, Outcome, float]] = []
        self._recording = asyncio.Lock()
        self._failure: BaseException | None = None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def _capacity(self) -> Capacity:
        webhooks = sum(n for lane, n in self._busy.items() if lane != EMAIL_LANE)
        return Capacity(
            in_flight=list(self._in_flight),
            busy={lane: n for lane, n in self._busy.items() if n > 0},
            per_subscription=self._per_subscription,
            email=self._email_concurrency,
            webhooks_free=self._concurrency - webhooks,
        )

    async def _send_now(self, row: Any, now: datetime) -> Outcome:
        if row["channel"] == "email":
            return await self._email.send(
                row["id"], row["recipient"], row["subject"], bytes(row["body"]).decode()
            )
        if row["url"] is None:
            return Outcome(False, "webhook subscription disabled", permanent=True)
        if row["secret_sealed"] is None:
            return Outcome(False, "webhook signing secret not sealed yet (restart notify)")
        return await self._webhooks.send(
            row["id"],
            row["url"],
            row["secret_sealed"],
            row["source_type"],
            bytes(row["body"]),
            int(now.timestamp()),
        )

    async def start_due(self, now: datetime) -> int:
        """Claim the due rows that fit their lanes and start sending them; return how many
        were claimed (the sends go on in the background)."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        claimed_at = time.monotonic()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await store.claim(
                conn, now, now + self._lease, self._batch_size, self._capacity()
            )
        for row in rows:
            lane = EMAIL_LANE if row["channel"] == "email" else row["recipient"]
            self._in_flight[row["id"]] = lane
            self._busy[lane] += 1
            task = asyncio.create_task(self._deliver(row, now, claimed_at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def run_due(self, now: datetime) -> int:
        """One whole pass: claim what fits, send it and wait until every send in flight is
        recorded (tests, benchmarks; the service's loop uses `start_due`)."""
        claimed = await self.start_due(now)
        await self.settle()
        return claimed

    async def settle(self) -> None:
        """Wait until every send in flight finished and was recorded."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def close(self, grace_s: float = 15.0) -> None:
        """Let the sends in flight finish and be recorded for up to `grace_s`, then cancel
        the rest (their rows come back after the lease, as after a crash)."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _deliver(self, row: Any, now: datetime, claimed_at: float) -> None:
        try:
            outcome = await self._send_now(row, now)
            self._finished.append((row, outcome, claimed_at))
            async with self._recording:  # sends finishing meanwhile share the next record
                if self._finished:
                    group = self._finished[:]
                    self._finished.clear()
                    await self._record_group(group)
        except Exception as exc:  # raised again by the next `start_due`, for the loop to report
            log.warning("delivering notification %s failed: %s", row["id"], type(exc).__name__)
            self._failure = exc
        finally:
            lane = self._in_flight.pop(row["id"], None)
            if lane is not None:
                self._busy[lane] -= 1
                if self._busy[lane] <= 0:
                    del self._busy[lane]
            self.on_capacity()

    async def _record_group(self, group: list[tuple[Any, Outcome, float]]) -> None:
        done = self._clock()
        claimed_at = min(claimed for _, _, claimed in group)
        results: list[Attempted] = []
        records: list[tuple[str, dict[str, Any], str]] = []
        for row, outcome, _ in group:
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
        error = redact_urls_in(outcome.error) if outcome.error is not None else None
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
                _destination(row),
                row["attempts"],
                "dead-lettered" if step == "dead" else f"retry at {retry_at:%H:%M:%S}",
                error,
            )
        attempted = Attempted(
            row["id"],
            "pending" if step == "retry" else step,
            retry_at if step == "retry" else None,
            error,
        )
        return attempted, _outcome_event(row, step, done, error)

    async def next_due(self) -> datetime | None:
        """When the next row that fits its lane is due."""
        return await store.next_due(self._pool, self._capacity())


def _destination(row: Any) -> str:
    """The recipient as a log line shows it: a webhook's subscription and redacted URL."""
    if row["channel"] == "webhook" and row["url"] is not None:
        return f"{row['recipient']} ({redact_url(row['url'])})"
    return str(row["recipient"])


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
