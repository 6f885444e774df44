"""Waiting out an unavailable dependency (the broker, the event store): retry with backoff, one
log line when it goes and one when it is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("ticketflow.sla")
T = TypeVar("T")

RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0


class Outages:
    """Which dependencies are failing right now."""

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def failed(self, what: str, exc: BaseException) -> None:
        if what not in self._failing:
            self._failing.add(what)
            log.error("%s unavailable (%s: %s); retrying", what, type(exc).__name__, exc)

    def recovered(self, what: str) -> None:
        if what in self._failing:
            self._failing.discard(what)
            log.info("%s reachable again", what)

    async def until_done(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt` until it succeeds, backing off between failures."""
        delay = RETRY_FIRST_S
        while True:
            try:
                result = await attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failed(what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.recovered(what)
            return result
