"""Retrying through an outage, logged once when it starts and once when it ends.

`Outage` is one loop's view of a failure episode: `failed(exc)` returns the next backoff
delay (logging only the first failure of the episode), `succeeded()` ends the episode (one
line saying how long it lasted). Both also update the running task's health record, so
`/readyz` names a task that is failing. `retry_until_done` runs one startup step (open the
pool, migrate, start a Kafka client) until it works or fails for a reason other than an
outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.common import health
from services.common.backoff import Backoff
from services.common.health import describe
from services.common.transient import is_transient

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Outage:
    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        backoff: Backoff | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.failures = 0
        self._log = logger
        self._backoff = backoff or Backoff()
        self._now = now
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> float:
        """Record a failed attempt; return how long to wait before the next one."""
        delay = self._backoff.next_delay()
        self.failures += 1
        task = health.current()
        if task is not None:
            task.failing(error)
        if self._since is None:
            self._since = self._now()
            self._log.warning(
                "%s failing: %s; retrying with backoff (first retry in %.1fs)",
                self.what,
                describe(error),
                delay,
                exc_info=not is_transient(error),
            )
        return delay

    def succeeded(self) -> None:
        """The work went through: a heartbeat of the running task, and the end of the
        episode if there was one."""
        task = health.current()
        if task is not None:
            task.recovered()
        if self._since is None:
            return
        self._log.warning(
            "%s recovered after %d failed attempt(s) over %.1fs",
            self.what,
            self.failures,
            self._now() - self._since,
        )
        self._since = None
        self.failures = 0
        self._backoff.reset()


async def retry_until_done(
    step: Callable[[], Awaitable[T]],
    what: str,
    logger: logging.Logger,
    *,
    backoff: Backoff | None = None,
    sleep: Sleep = asyncio.sleep,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run `step` until it returns, waiting with backoff after each error that `retry_on`
    accepts (by default: the database or broker is unreachable); other errors propagate."""
    outage = Outage(what, logger, backoff)
    while True:
        try:
            result = await step()
        except Exception as exc:
            if not retry_on(exc):
                raise
            await sleep(outage.failed(exc))
            continue
        outage.succeeded()
        return result
