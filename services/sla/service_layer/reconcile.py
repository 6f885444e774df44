"""Reconciliation: compare every ticket of the assigned partitions with the event store and
repair the ones behind it (a changelog write lost in a crash, a recovery cut short)."""

from __future__ import annotations

import asyncio
import logging
import time

from services.sla.adapters.partitioning import partition_of
from services.sla.domain import state_codec
from services.sla.domain.watermark import lag
from services.sla.service_layer.commit import Batch, commit
from services.sla.service_layer.outages import RETRY_MAX_S
from services.sla.service_layer.repair import repair_many
from services.sla.service_layer.worker import Worker

log = logging.getLogger("ticketflow.sla")

RECONCILE_CHUNK = 500
CATCH_UP_S = 300.0
CATCH_UP_POLL_S = 0.5


async def reconcile(worker: Worker) -> None:
    """Repair every assigned ticket behind the event store, once the consumer has caught up.
    Retries until the store answers; the worker is ready meanwhile (timers check the store
    anyway)."""
    await _caught_up(worker)
    started = time.monotonic()  # waits for an unavailable store count in both figures
    stored = await worker.outages.until_done("event store", worker.truth.all_versions)
    scanned = time.monotonic() - started
    assigned = set(worker.assigned)
    behind = []
    get = worker.store.get
    for ticket, version in stored.items():
        key = ticket.encode()
        raw = get(key)
        if raw is None:  # the local table holds only assigned partitions' tickets
            if partition_of(key, worker.partitions) in assigned:
                behind.append(key)
        elif _stored_version(raw) < version:
            behind.append(key)
    for first in range(0, len(behind), RECONCILE_CHUNK):
        await _repair_chunk(worker, behind[first : first + RECONCILE_CHUNK])
    rewritten = await _rewrite_plain(worker) if worker.plain_states else 0
    worker.last_reconciliation = {
        "tickets": len(stored),
        "repaired": len(behind),
        "rewritten_plain": rewritten,
        "scan_seconds": round(scanned, 4),
        "seconds": round(time.monotonic() - started, 4),
    }
    worker.metrics.reconciliation.set(time.monotonic() - started)
    log.info(
        "reconciled partitions %s with the event store: %d tickets in the store, %d repaired "
        "(%.2f s)",
        sorted(assigned),
        len(stored),
        len(behind),
        time.monotonic() - started,
    )
    worker.reconciled.set()


def _stored_version(raw: bytes) -> int:
    """The version a stored state reached; 0 (rebuild it) when this version cannot read it."""
    try:
        return state_codec.version_of(raw)
    except state_codec.StateDecodeError:
        return 0


async def _repair_chunk(worker: Worker, chunk: list[bytes]) -> None:
    """One chunk under the lock: ticket events and timers get in between chunks; a store
    outage is waited out with the lock released."""
    while True:
        async with worker.lock:
            batch = Batch(worker.now())
            done = await repair_many(worker, chunk, batch, "reconciliation")
            if done:
                worker.gaps.difference_update(chunk)
                await commit(worker, batch)
        if done:
            return
        await asyncio.sleep(RETRY_MAX_S)


async def _rewrite_plain(worker: Worker) -> int:
    """With TICKETFLOW_SLA_STATE_FORMAT=plain, rewrite every deflated state as plain JSON (to
    the table and its changelog), so that a release before format 1 can take over: the count
    is in /readyz's reconciliation figures. Idle tickets would otherwise keep format 1."""
    deflated = [key for key, raw in worker.store.items() if state_codec.is_deflated(raw)]
    for first in range(0, len(deflated), RECONCILE_CHUNK):
        async with worker.lock:
            batch = Batch(worker.now())
            for key in deflated[first : first + RECONCILE_CHUNK]:
                tracked = worker.load(key)
                if tracked is not None:
                    batch.changed[key] = tracked
            await commit(worker, batch)
    if deflated:
        log.info("%d deflated SLA states rewritten as plain JSON", len(deflated))
    return len(deflated)


async def _caught_up(worker: Worker) -> None:
    """Wait (bounded) until the consumer reached the end of every assigned partition: what is
    still in the topic arrives by itself, so only what was lost gets repaired."""
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        lags = [
            lag(
                worker.offsets.highwater(partition),
                progress.next_offset if (progress := worker.progress.get(partition)) else None,
                worker.offsets.committed(partition),
            )
            for partition in worker.assigned
        ]
        if all(behind == 0 for behind in lags):
            return
        await asyncio.sleep(CATCH_UP_POLL_S)
    log.warning("consumer still behind after %.0f s; reconciling anyway", CATCH_UP_S)
