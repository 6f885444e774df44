"""Exact-time work kept in PostgreSQL: one task sleeps until the earliest due row, does what is
due, and sleeps again. Writers in the same process `wake()` it when they add an earlier row;
replicas pick rows with SKIP LOCKED, and no sleep is longer than `max_sleep` so a row another
replica added is not missed for long."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from services.common import health
from services.common.retrying import Outage
from services.common.waiting import wait_for_either

log = logging.getLogger("ticketflow.scheduler")


class DueLoop:
    def __init__(
        self,
        name: str,
        next_due: Callable[[], Awaitable[datetime | None]],
        run_due: Callable[[datetime], Awaitable[int]],
        now: Callable[[], datetime],
        *,
        max_sleep: float = 5.0,
    ) -> None:
        self._name = name
        self._next_due = next_due
        self._run_due = run_due
        self._now = now
        self._max_sleep = max_sleep
        self._wake = asyncio.Event()
        self.passes = 0

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> datetime | None:
        """Do everything due now; return when the next row is due."""
        while await self._run_due(self._now()) > 0:
            health.beat()
        self.passes += 1
        return await self._next_due()

    async def run(self, stop: asyncio.Event) -> None:
        outage = Outage(self._name, log)
        while not stop.is_set():
            self._wake.clear()
            try:
                upcoming = await self.run_once()
            except Exception as exc:  # keep the loop alive: the next pass retries
                await wait_for_either(stop, None, outage.failed(exc))
                continue
            outage.succeeded()  # and a heartbeat
            timeout = self._max_sleep
            if upcoming is not None:
                timeout = min(max((upcoming - self._now()).total_seconds(), 0.0), timeout)
            await wait_for_either(stop, self._wake, timeout)
