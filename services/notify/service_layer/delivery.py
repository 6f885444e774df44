"""Sends due notifications: claims what fits (attempt counted, leased), starts each send at
once, and records each outcome - delivered, retry later with exponential backoff, or dead -
as soon as that send finished, publishing it on `ticketflow.notifications` (outbox, same
transaction).

Fairness: each channel's `LaneRule` (registered with it in `bootstrap.channels()`) makes it
one lane (email) or one lane per recipient (each webhook subscription), each lane with its
own cap of sends in flight, and may cap all the channel's lanes together (webhooks: the
connection pool); claiming does not wait for the sends already in flight: one account's slow
receiver fills its own lane and nothing else. A lane claims at most `prefetch` rounds of its
slots, so one claim serves several sends; a claimed row that waited more than an eighth of
the lease for its slot is handed back unsent, and a send is cut off after a quarter of the
lease, so every send ends while its lease still covers the recording. A row in flight is
never claimed again by this process.

Recording the outcomes is retried through a database outage for as long as the claim's lease
still covers the rows, so a delivery already made is not made again after a short outage.
A recording that gave up is raised by the next `start_due` (the delivery loop reports it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram

from services.common import tracing
from services.common.redaction import redact_url, redact_urls_in
from services.common.retrying import Outage
from services.common.transient import is_transient
from services.notify.domain.notifications import Attempted, Capacity, LaneRule, Notification
from services.notify.domain.retries import Outcome, RetryPolicy, next_step
from services.notify.service_layer.channels import ChannelSpec, by_name
from services.notify.service_layer.ports import DeliveryStore, Sender
from shared.events.notification import NotificationEvent

log = logging.getLogger("ticketflow.notify.delivery")
ATTEMPTS = Counter(
    "ticketflow_notification_attempts_total", "Delivery attempts", ["channel", "result"]
)
DELIVERY_SECONDS = Histogram(
    "ticketflow_notification_delivery_seconds",
    "Time from logging a notification to its delivery",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)


UNREGISTERED = LaneRule(slots=1)
"""The lanes of a row whose channel is not registered (it is dead at its first attempt)."""


class Lanes:
    """Send slots: one semaphore per lane (a channel, or one recipient of a channel with a
    lane per recipient), plus one per channel capped together (`LaneRule.together`). Pure
    bookkeeping, no I/O."""

    def __init__(self, rules: Mapping[str, LaneRule]) -> None:
        self._rules = rules
        self._together = {
            channel: asyncio.Semaphore(rule.together)
            for channel, rule in rules.items()
            if rule.together is not None
        }
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._users: Tally[str] = Tally()

    def rule(self, channel: str) -> LaneRule:
        return self._rules.get(channel, UNREGISTERED)

    def lane(self, row: Notification) -> str:
        return self.rule(row.channel).lane(row.channel, row.recipient)

    @contextlib.asynccontextmanager
    async def slot(self, channel: str, lane: str) -> AsyncIterator[None]:
        semaphore = self._lanes.setdefault(lane, asyncio.Semaphore(self.rule(channel).slots))
        self._users[lane] += 1
        try:
            async with semaphore:
                together = self._together.get(channel)
                if together is None:
                    yield
                else:
                    async with together:
                        yield
        finally:
            self._users[lane] -= 1
            if self._users[lane] <= 0:
                del self._users[lane], self._lanes[lane]


class Deliverer:
    """`channels`: the registered channels (`bootstrap.channels()`); each one's sender sends
    its notifications, in the lanes its `LaneRule` gives them."""

    def __init__(
        self,
        store: DeliveryStore,
        channels: Sequence[ChannelSpec],
        now: Callable[[], datetime],
        retry: RetryPolicy,
        *,
        batch_size: int = 200,
        lease: timedelta = timedelta(minutes=2),
        prefetch: int = 4,
        on_commit: Callable[[], None] = lambda: None,
        on_capacity: Callable[[], None] = lambda: None,
    ) -> None:
        registered = by_name(channels)
        self._store = store
        self._senders: dict[str, Sender] = {n: c.sender for n, c in registered.items()}
        self._now = now
        self._retry = retry
        self._batch_size = batch_size
        self._lease = lease
        self._prefetch = prefetch
        self._lanes = Lanes({name: channel.lanes for name, channel in registered.items()})
        self._on_commit = on_commit
        self.on_capacity = on_capacity
        """Called when a claimed row is done (its lane has room again): the loop's wake."""
        self._send_timeout = lease.total_seconds() / 4
        self._slot_wait = lease.total_seconds() / 8
        self._in_flight: dict[uuid.UUID, str] = {}
        """Claimed rows not recorded yet: their lanes."""
        self._claimed: Tally[str] = Tally()
        """Claimed rows not recorded yet, by lane."""
        self._claimed_channels: Tally[str] = Tally()
        """Claimed rows not recorded yet, by channel."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[tuple[Notification, Outcome, float]] = []
        self._recording = asyncio.Lock()
        self._failure: BaseException | None = None
        self._room = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Rows claimed by this process whose outcome is not recorded yet."""
        return len(self._in_flight)

    def _capacity(self) -> Capacity:
        """What may be claimed: `prefetch` rounds of each lane's slots (so a claim serves
        several sends), never more than can start while the lease still covers a send."""
        rules = {name: self._lanes.rule(name) for name in self._senders}
        per_recipient = [rule.slots for rule in rules.values() if rule.per_recipient]
        return Capacity(
            in_flight=list(self._in_flight),
            busy=dict(self._claimed),
            slots={
                name: rule.slots * self._prefetch
                for name, rule in rules.items()
                if not rule.per_recipient
            },
            recipient_slots=max(per_recipient, default=UNREGISTERED.slots) * self._prefetch,
            channel_free={
                name: rule.together * self._prefetch - self._claimed_channels[name]
                for name, rule in rules.items()
                if rule.together is not None
            },
        )

    async def _send_now(self, notification: Notification) -> Outcome:
        sender = self._senders.get(notification.channel)
        if sender is None:
            return Outcome(False, f"no sender for channel {notification.channel}", permanent=True)
        if notification.trace is None and not tracing.enabled():
            return await sender.send(replace(notification, at=self._now()))
        with tracing.span(
            f"notify send {notification.channel}",
            parent=tracing.context_of(notification.trace),
            kind=tracing.SpanKind.CLIENT,
            attributes={
                "ticketflow.ticket_id": notification.ticket_id,
                "ticketflow.notification_id": str(notification.id),
                "ticketflow.event_id": str(notification.source_event_id),
                "ticketflow.event_type": notification.source_type,
                "ticketflow.template": notification.template,
                "ticketflow.attempt": notification.attempts,
            },
        ) as span:
            outcome = await sender.send(replace(notification, at=self._now()))
            if not outcome.ok:
                tracing.failed(span, outcome.error or "not delivered")
            return outcome

    async def start_due(self, now: datetime) -> int:
        """Claim the due rows that fit their lanes and start sending them; return how many
        were claimed (the sends go on in the background)."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        claimed_at = time.monotonic()
        rows = await self._store.claim(now, now + self._lease, self._batch_size, self._capacity())
        for row in rows:
            lane = self._lanes.lane(row)
            self._in_flight[row.id] = lane
            self._claimed[lane] += 1
            self._claimed_channels[row.channel] += 1
            task = asyncio.create_task(self._deliver(row, lane, claimed_at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def run_due(self, now: datetime) -> int:
        """Send everything due at `now` and wait until every outcome is recorded; return
        how many rows were claimed (tests, benchmarks; the service's loop uses `start_due`
        and is woken when a lane has room)."""
        total = await self.start_due(now)
        while self._tasks:
            self._room.clear()
            waiters = {
                asyncio.ensure_future(asyncio.wait(set(self._tasks))),
                asyncio.ensure_future(self._room.wait()),
            }
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            total += await self.start_due(now)
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        return total

    async def close(self, grace_s: float = 15.0) -> None:
        """Let the sends in flight finish and be recorded for up to `grace_s`, then cancel
        the rest (their rows come back after the lease, as after a crash)."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _deliver(self, row: Notification, lane: str, claimed_at: float) -> None:
        try:
            async with self._lanes.slot(row.channel, lane):
                if time.monotonic() - claimed_at > self._slot_wait:
                    await self._hand_back(row)  # its lease would not cover the send
                    return
                try:
                    async with asyncio.timeout(self._send_timeout):
                        outcome = await self._send_now(row)
                except TimeoutError:
                    outcome = Outcome(False, f"send timed out after {self._send_timeout:g}s")
            self._finished.append((row, outcome, claimed_at))
            async with self._recording:  # sends finishing meanwhile share the next record
                if self._finished:
                    group = self._finished[:]
                    self._finished.clear()
                    await self._record_group(group)
        except Exception as exc:  # raised again by the next `start_due`, for the loop to report
            log.warning("delivering notification %s failed: %s", row.id, type(exc).__name__)
            self._failure = exc
        finally:
            if self._in_flight.pop(row.id, None) is not None:
                _take_one(self._claimed, lane)
                _take_one(self._claimed_channels, row.channel)
            if self._running_low(row.channel, lane):
                self._room.set()
                self.on_capacity()

    def _running_low(self, channel: str, lane: str) -> bool:
        """Time to claim again: the lane (or all the lanes of a channel capped together) has
        at most one round of its slots claimed, so its sends do not run dry while a claim is
        made. Waking on every finished send would make one claim per send."""
        rule = self._lanes.rule(channel)
        if self._claimed[lane] <= rule.slots:
            return True
        return rule.together is not None and self._claimed_channels[channel] <= rule.together

    async def _hand_back(self, row: Notification) -> None:
        """A claimed row that waited too long for a slot goes back unsent, its attempt not
        counted, due at once (for whichever process has room)."""
        await self._store.release([row.id], self._now())
        log.info("notification %s waited too long for a send slot; handed back", row.id)

    async def _record_group(self, group: list[tuple[Notification, Outcome, float]]) -> None:
        done = self._now()
        claimed_at = min(claimed for _, _, claimed in group)
        results: list[Attempted] = []
        events: list[NotificationEvent] = []
        for row, outcome, _ in group:
            attempted, event = self._judge(row, outcome, done)
            results.append(attempted)
            events.append(event)
        traces = [row.trace for row, _, _ in group]
        await self._record(events, results, done, traces, claimed_at=claimed_at)
        self._on_commit()

    async def _record(
        self,
        events: list[NotificationEvent],
        results: list[Attempted],
        done: datetime,
        traces: list[str | None],
        *,
        claimed_at: float,
    ) -> None:
        """Write the outcomes and their events; while the database is unreachable, retry for
        half the lease (after that another pass may claim the rows again: raise)."""
        give_up_at = claimed_at + self._lease.total_seconds() / 2
        outage = Outage("notify delivery log", log)
        while True:
            try:
                await self._store.record(results, events, done, traces)
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() >= give_up_at:
                    raise
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.succeeded()
            return

    def _judge(
        self, row: Notification, outcome: Outcome, done: datetime
    ) -> tuple[Attempted, NotificationEvent]:
        """Delivered, retry later (exponential backoff) or dead; logged and counted."""
        error = redact_urls_in(outcome.error) if outcome.error is not None else None
        step = next_step(outcome, row.attempts, self._retry)
        retry_at = done + self._retry.delay_after(row.attempts)
        ATTEMPTS.labels(row.channel, step).inc()
        if step == "delivered":
            DELIVERY_SECONDS.labels(row.channel).observe((done - row.created_at).total_seconds())
        else:
            log.log(
                logging.ERROR if step == "dead" else logging.WARNING,
                "%s %s to %s attempt %d failed (%s): %s",
                row.channel,
                row.id,
                _destination(row),
                row.attempts,
                "dead-lettered" if step == "dead" else f"retry at {retry_at:%H:%M:%S}",
                error,
            )
        attempted = Attempted(
            row.id,
            "pending" if step == "retry" else step,
            retry_at if step == "retry" else None,
            error,
        )
        return attempted, _outcome_event(row, step, done, error)

    async def next_due(self) -> datetime | None:
        """When the next row that fits its lane is due."""
        return await self._store.next_due(self._capacity())


def _take_one(tally: Tally[str], key: str) -> None:
    tally[key] -= 1
    if tally[key] <= 0:
        del tally[key]


def _destination(row: Notification) -> str:
    """The recipient as a log line shows it: a webhook's subscription and redacted URL."""
    if row.url is not None:
        return f"{row.recipient} ({redact_url(row.url)})"
    return row.recipient


def _outcome_event(
    row: Notification, step: str, at: datetime, error: str | None
) -> NotificationEvent:
    kind = {"delivered": "notification.delivered", "retry": "notification.failed"}.get(
        step, "notification.dead"
    )
    return NotificationEvent(
        id=uuid.uuid5(row.id, f"{kind}|{row.attempts}"),
        type=kind,
        notification_id=row.id,
        ticket_id=row.ticket_id,
        account=row.account,
        channel=row.channel,
        recipient=row.recipient,
        template=row.template,
        source_event_id=row.source_event_id,
        source_type=row.source_type,
        attempt=row.attempts,
        at=at,
        error=error,
    )
