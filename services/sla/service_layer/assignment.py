"""Partitions coming and going: drop what a revoked partition held, rebuild the timer heap from
the recovered state of the assigned ones, and reconcile them with the event store in the
background."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from services.sla.domain import state_codec
from services.sla.service_layer.outages import RETRY_MAX_S
from services.sla.service_layer.reconcile import reconcile
from services.sla.service_layer.worker import Worker

log = logging.getLogger("ticketflow.sla")


def partitions_revoked(worker: Worker, partitions: Iterable[int]) -> None:
    gone = set(partitions)
    stop_reconciliation(worker)
    worker.ready.clear()
    worker.waiting.clear()
    worker.reconciled.clear()
    worker.decoded.clear()
    worker.assigned -= gone
    worker.timers.drop_partitions(gone)
    for partition in gone:
        worker.progress.pop(partition, None)


def state_recovered(worker: Worker, partitions: Iterable[int]) -> None:
    """Rebuild the timer heap from the recovered state of the assigned partitions (and forget
    the tickets of partitions no longer assigned)."""
    started = time.monotonic()
    worker.assigned = set(partitions)
    worker.timers.clear()
    worker.decoded.clear()
    stale = []
    tracked = 0
    for key, raw in worker.store.items():
        due, partition = state_codec.timer_of(raw)
        if partition not in worker.assigned:
            stale.append(key)
            continue
        tracked += 1
        if due is not None:
            worker.timers.schedule(key, partition, due)
    for key in stale:
        worker.store.discard(key)
    log.info(
        "state recovered for partitions %s: %d tickets, %d pending timers (%.2f s)",
        sorted(worker.assigned),
        tracked,
        len(worker.timers),
        time.monotonic() - started,
    )
    worker.ready.set()
    worker.wake.set()


def start_reconciliation(worker: Worker) -> None:
    """Reconcile in the background (the store may be down; recovery must not wait for it); a
    new assignment replaces a reconciliation still running, a revocation cancels it."""
    stop_reconciliation(worker)
    worker.reconciling = asyncio.ensure_future(_reconcile_until_done(worker))


def stop_reconciliation(worker: Worker) -> None:
    if worker.reconciling is not None and not worker.reconciling.done():
        worker.reconciling.cancel()
    worker.reconciling = None


async def _reconcile_until_done(worker: Worker) -> None:
    while True:
        try:
            await reconcile(worker)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reconciliation with the event store failed; retrying")
            await asyncio.sleep(RETRY_MAX_S)
