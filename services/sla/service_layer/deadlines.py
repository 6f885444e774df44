"""Firing deadlines at their time, once the event store says nothing can prevent them.

The event store (read-only) is the source of truth for "have I seen everything?":
- a deadline fires only once the store's horizon (every event recorded before it is committed,
  see `event_store_truth`) has passed it and the ticket's state is at the store's version
  (a lagging ticket is brought up to date from the store first), so a response still in the
  topic, or still in the outbox, prevents the breach;
- a deadline already past when the ticket's latest event was recorded (a ticket logged late)
  fires no earlier than `settle_s` after that event, so the rest of a burst that backfills a
  ticket's history arrives before the breach is decided;
- past `max_delay_s` after the deadline without a verdict from the store (database down, a
  writer transaction stuck open), the breach fires anyway, flagged `provisional`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime

from services.common import tracing
from services.sla.domain.processing import Decision, fire_due
from services.sla.domain.tracked import Tracked
from services.sla.domain.watermark import eligible_at
from services.sla.service_layer.commit import Batch, commit
from services.sla.service_layer.effects import records_of
from services.sla.service_layer.ports import StoredVersionLike
from services.sla.service_layer.repair import repair_gaps, repair_many
from services.sla.service_layer.worker import Worker

log = logging.getLogger("ticketflow.sla")

# Timers fired per turn: small, so ticket events waiting for the lock get in between.
TIMER_BATCH = 200
BLOCKED_RECHECK_S = 0.05
IDLE_RECHECK_S = 1.0
DEFECT_RETRY_S = 5.0
TIMERS_STUCK_S = 30.0
PROVISIONAL_STEP_S = 0.001
LATENESS_OBSERVED = frozenset({"sla.breached", "sla.warning"})


async def run_timers(worker: Worker) -> None:
    """Sleep until the earliest deadline; fire what the event store's horizon allows."""
    while True:
        worker.timer_beat = time.monotonic()
        await worker.ready.wait()
        await repair_gaps(worker)
        head = worker.timers.earliest()
        now = worker.now().timestamp()
        if head is None or head > now:
            wait = IDLE_RECHECK_S if head is None else head - now
            await _sleep(worker, min(wait, IDLE_RECHECK_S))
            continue
        blocked = await fire_due_timers(worker)
        if blocked:
            await _sleep(worker, BLOCKED_RECHECK_S)


def timers_stuck(worker: Worker, limit_s: float = TIMERS_STUCK_S) -> bool:
    """The timer loop has not gone round for `limit_s` (blocked behind a broker outage, or
    dead): `/readyz` says so."""
    return worker.ready.is_set() and time.monotonic() - worker.timer_beat > limit_s


async def fire_due_timers(worker: Worker) -> int:
    """Fire due timers the event store's horizon has passed; return how many must wait."""
    async with worker.lock:
        now = worker.now()
        due = [
            item
            for item in worker.timers.pop_due(now.timestamp(), TIMER_BATCH)
            if item[1] in worker.assigned
        ]
        if not due:
            return 0
        horizon, versions = await _ask_store(worker, [key.decode() for key, _, _ in due])
        batch = Batch(now)
        blocked = 0
        lagging: list[bytes] = []
        for key, partition, _ in due:
            try:
                verdict = _decide(worker, key, partition, horizon, versions, batch, lagging)
            except Exception:  # one ticket's defect must not lose the other timers
                log.exception("ticket %s: timer failed; retried later", key.decode())
                worker.timers.schedule(key, partition, now.timestamp() + DEFECT_RETRY_S)
                continue
            blocked += verdict
        if lagging:
            await repair_many(worker, lagging, batch, "lagging")
        await commit(worker, batch)
    return blocked


async def _sleep(worker: Worker, seconds: float) -> None:
    """Sleep `seconds`, or less when a batch woke the loop (its ticket's deadline may be
    earlier now)."""
    worker.wake.clear()
    try:
        await asyncio.wait_for(worker.wake.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        pass


async def _ask_store(
    worker: Worker, tickets: list[str]
) -> tuple[float | None, Mapping[str, StoredVersionLike] | None]:
    """(horizon, versions of `tickets`): the horizon first, then the versions (see
    `event_store_truth`); (None, None) while the store cannot be read."""
    try:
        horizon = await worker.truth.horizon()
        versions = await worker.truth.versions(tickets)
    except Exception as exc:
        worker.outages.failed("event store", exc)
        return None, None
    worker.outages.recovered("event store")
    lag = worker.now().timestamp() - horizon if horizon is not None else -1.0
    worker.metrics.horizon_lag.set(lag)
    return horizon, versions


def _decide(
    worker: Worker,
    key: bytes,
    partition: int,
    horizon: float | None,
    versions: Mapping[str, StoredVersionLike] | None,
    batch: Batch,
    lagging: list[bytes],
) -> int:
    """Fire one due ticket, or reschedule it; 1 when it waits for the store."""
    tracked = worker.load(key)
    at = tracked.next_due_s if tracked is not None else None
    if tracked is None or at is None:
        return 0
    # the heap's time only orders the rechecks
    now_s = batch.emitted_at.timestamp()
    stored = versions.get(key.decode()) if versions is not None else None
    fire_at = eligible_at(at, stored.recorded_at if stored else None, worker.settle_s)
    if fire_at > now_s:  # the settle window of a ticket logged late
        worker.timers.schedule(key, partition, fire_at)
        return 0
    # The bound counts from when this deadline first waited here (not from the deadline
    # itself: a ticket logged, or consumed, long after its deadline gets its full wait).
    since = worker.waiting.get(key)
    if since is None or since[0] != at:
        since = worker.waiting[key] = (at, now_s)
    within_bound = now_s - since[1] <= worker.max_delay_s
    behind = stored is not None and stored.version > tracked.version
    if behind and within_bound:
        # Events of this ticket not processed yet (lag, or lost): from the store, then
        # decided again on the next turn.
        if key not in worker.gaps:
            lagging.append(key)
        worker.timers.schedule(key, partition, now_s + BLOCKED_RECHECK_S)
        return 1
    mark = min(horizon, now_s) if horizon is not None else now_s
    confirmed = horizon is not None and stored is not None and not behind and fire_at < mark
    if not confirmed and within_bound:
        # Behind the horizon, or the store cannot say (down, or the ticket unknown to it):
        # wait. Rescheduled just after now, so other due tickets get their turn first.
        worker.timers.schedule(key, partition, now_s + BLOCKED_RECHECK_S)
        return 1
    if not confirmed:  # only this timer: each later one waits out its own bound
        mark = min(now_s, at + PROVISIONAL_STEP_S)
        log.warning(
            "ticket %s: deadline held back %.0f s with no verdict from the event store; "
            "firing provisionally",
            key.decode(),
            now_s - since[1],
        )
    worker.waiting.pop(key, None)
    decision = fire_due(tracked, worker.policies[tracked.policy], datetime.fromtimestamp(mark, UTC))
    if decision.outcome == "duplicate":  # nothing due before the mark yet
        worker.timers.schedule(key, partition, now_s + BLOCKED_RECHECK_S)
        return 1
    batch.changed[key] = decision.tracked
    with _timer_span(tracked, decision):
        batch.out.extend(
            records_of(decision, batch.emitted_at, worker.metrics, provisional=not confirmed)
        )
    _observe_lateness(worker, decision, batch.emitted_at)
    return 0


def _timer_span(tracked: Tracked, decision: Decision) -> AbstractContextManager[object]:
    """The span of a timer firing: it continues the trace of the event that set the timer
    (the ticket's `trace`) and links to that event's span."""
    if tracked.trace is None and not tracing.enabled():
        return nullcontext()
    kinds = sorted({traced.emitted.type for traced in decision.emitted})
    return tracing.span(
        "sla timer fired",
        parent=tracing.context_of(tracked.trace),
        links=tracing.link_to(tracked.trace),
        attributes={
            "ticketflow.ticket_id": tracked.ticket_id,
            "ticketflow.account": tracked.account,
            "ticketflow.emitted": ",".join(kinds),
        },
    )


def _observe_lateness(worker: Worker, decision: Decision, now: datetime) -> None:
    for traced in decision.emitted:
        kind = traced.emitted.type
        if kind in LATENESS_OBSERVED:
            late = (now - traced.emitted.at).total_seconds()
            worker.metrics.lateness.labels(kind).observe(late)
