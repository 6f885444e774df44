"""Supervised background tasks: a task that dies with an unexpected error (or returns while
the service still runs) is logged and restarted with backoff, and its health record says so.

A task that ran for `healthy_after` seconds before dying starts again from the shortest
delay; one that keeps dying at once waits longer each time, up to the backoff's cap."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from services.common import health
from services.common.backoff import Backoff
from services.common.health import TaskHealth, describe
from services.common.waiting import wait_for_either

log = logging.getLogger("ticketflow.supervision")

Run = Callable[[asyncio.Event], Awaitable[None]]


class EndedEarly(RuntimeError):
    """The task returned although the service was not stopping."""


async def supervise(
    run: Run,
    stop: asyncio.Event,
    task: TaskHealth,
    *,
    backoff: Backoff | None = None,
    healthy_after: float = 30.0,
    now: Callable[[], float] = time.monotonic,
) -> None:
    """Run `run(stop)` until `stop` is set, restarting it whenever it ends on its own."""
    backoff = backoff or Backoff()
    health.attach(task)
    try:
        while not stop.is_set():
            task.started()
            began = now()
            try:
                await run(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error: Exception = exc
                log.exception("%s died: %s", task.name, describe(exc))
            else:
                if stop.is_set():
                    return
                error = EndedEarly(f"{task.name} returned while the service runs")
                log.error("%s ended while the service runs", task.name)
            task.crashed(error)
            if now() - began >= healthy_after:
                backoff.reset()
            delay = backoff.next_delay()
            if await wait_for_either(stop, None, delay):
                return
            task.restarting()
            log.warning("%s restarting (restart %d, after %.1fs)", task.name, task.restarts, delay)
    finally:
        task.stopped()
