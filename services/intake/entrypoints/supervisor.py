"""Intake's background tasks (outbox relay, command consumer, notifier), supervised.

A task that crashes or returns while the service runs is restarted after a capped backoff
and counted. `health()` is what `/readyz` reports per task: ready while the task runs and
its heartbeat is fresh (a loop that is retrying an outage, or hangs, goes stale)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.intake.adapters.backoff import Backoff
from services.intake.adapters.heartbeat import Heartbeat

log = logging.getLogger("ticketflow.intake.tasks")

Run = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class _Supervised:
    task: asyncio.Task[None]
    heartbeat: Heartbeat
    restarts: int = 0


class Supervisor:
    def __init__(
        self,
        stop: asyncio.Event,
        *,
        stuck_after: float = 30.0,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self._stop = stop
        self._stuck_after = stuck_after
        self._backoff = backoff
        self._tasks: dict[str, _Supervised] = {}

    def spawn(self, name: str, run: Run, heartbeat: Heartbeat) -> None:
        task = asyncio.create_task(self._keep_running(name, run, heartbeat), name=f"intake-{name}")
        self._tasks[name] = _Supervised(task, heartbeat)

    async def _keep_running(self, name: str, run: Run, heartbeat: Heartbeat) -> None:
        backoff = self._backoff()
        while not self._stop.is_set():
            try:
                await run(self._stop)
                if self._stop.is_set():
                    return
                heartbeat.failed(RuntimeError(f"{name} returned while the service runs"))
                log.error("%s returned while the service runs; restarting it", name)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                heartbeat.failed(error)
                log.exception("%s crashed; restarting it", name)
            self._tasks[name].restarts += 1
            try:
                await asyncio.wait_for(self._stop.wait(), backoff.next_delay())
            except TimeoutError:
                continue

    def healthy(self, name: str) -> bool:
        supervised = self._tasks[name]
        heartbeat = supervised.heartbeat
        return (
            not supervised.task.done()
            and heartbeat.last_error is None
            and heartbeat.age() <= self._stuck_after
        )

    def health(self) -> dict[str, bool]:
        """Per task: working (True), or dead, failing or stuck (False)."""
        return {name: self.healthy(name) for name in self._tasks}

    def report(self) -> dict[str, dict[str, Any]]:
        """Per task: healthy, seconds since its last good pass, its last error, restarts."""
        return {
            name: {
                "healthy": self.healthy(name),
                "seconds_since_progress": round(supervised.heartbeat.age(), 3),
                "last_error": supervised.heartbeat.last_error,
                "restarts": supervised.restarts,
            }
            for name, supervised in self._tasks.items()
        }

    async def stop(self) -> None:
        """Wait for the tasks after `stop` was set (they finish their current pass)."""
        await asyncio.gather(*(s.task for s in self._tasks.values()), return_exceptions=True)
