"""Bringing tickets up to the event store's version: a gap in the topic (sequence n+2 before
n+1) is repaired from the store at once, never held; so is a ticket found behind the store
when one of its deadlines falls due, or on reconciliation."""

from __future__ import annotations

import logging
from dataclasses import replace

from services.sla.adapters.partitioning import partition_of
from services.sla.domain.processing import apply_event
from services.sla.domain.tracked import Incoming, Tracked
from services.sla.service_layer.commit import Batch, commit
from services.sla.service_layer.effects import records_of
from services.sla.service_layer.worker import Worker

log = logging.getLogger("ticketflow.sla")


async def repair_many(worker: Worker, keys: list[bytes], batch: Batch, reason: str) -> bool:
    """Bring tickets up to the store's version (one query); False when the store cannot be
    read (they are repaired on a later turn: their events are kept, never dropped)."""
    current = {key: batch.changed.get(key) or worker.load(key) for key in keys}
    after = {key.decode(): (t.version if t is not None else 0) for key, t in current.items()}
    try:
        histories = await worker.truth.histories(after)
    except Exception as exc:
        worker.gaps.update(keys)
        worker.outages.failed("event store", exc)
        return False
    worker.outages.recovered("event store")
    worker.gaps.difference_update(keys)
    repaired = 0
    for key, tracked in current.items():
        history = histories.get(key.decode(), [])
        changed = fold_history(worker, key, tracked, history, batch)
        if not changed and tracked is None and worker.store.get(key) is not None:
            # An unreadable stored state the store could not rebuild: say so, loudly (its
            # deadlines cannot be decided until its history or its policy is there).
            log.error(
                "ticket %s: stored SLA state unreadable and not rebuilt from the event store "
                "(%d stored events)",
                key.decode(),
                len(history),
            )
            worker.metrics.repairs.labels("unrebuilt").inc()
        repaired += changed
    if repaired:
        worker.metrics.repairs.labels(reason).inc(repaired)
        log.info("%d tickets repaired from the event store (%s)", repaired, reason)
    return True


def fold_history(
    worker: Worker, key: bytes, tracked: Tracked | None, history: list[Incoming], batch: Batch
) -> bool:
    """Fold stored events into a ticket's state; True when it changed."""
    ticket = key.decode()
    partition = tracked.partition if tracked else partition_of(key, worker.partitions)
    changed = False
    for event in history:
        policy = worker.policies.get(event.policy)
        if policy is None:
            log.error("ticket %s: policy %s is not loaded; not repaired", ticket, event.policy)
            break
        try:
            decision = apply_event(tracked, event, ticket, partition, policy)
        except Exception as exc:
            # The store has it, so the ticket is past it: a version-only step (as the core
            # does for events without clock effect), or the ticket lags forever.
            log.error("ticket %s: stored event %d refused: %s", ticket, event.sequence, exc)
            if tracked is None or tracked.sla is None:
                break
            tracked = replace(tracked, sla=replace(tracked.sla, version=event.sequence))
            batch.changed[key], changed = tracked, True
            continue
        if decision.outcome == "duplicate":
            continue
        tracked, changed = decision.tracked, True
        batch.changed[key] = tracked
        batch.out.extend(records_of(decision, batch.emitted_at, worker.metrics))
    if tracked is not None and tracked.held:
        # Held events the store does not have (forged or from another store) are dropped.
        log.error("ticket %s: %d held events are not in the event store", ticket, len(tracked.held))
        batch.changed[key] = replace(tracked, held=())
    return changed


async def repair_gaps(worker: Worker) -> None:
    """Retry the repairs the store could not serve before (called by the timer loop)."""
    if not worker.gaps:
        return
    async with worker.lock:
        batch = Batch(worker.now())
        await repair_many(worker, list(worker.gaps), batch, "gap")
        await commit(worker, batch)
