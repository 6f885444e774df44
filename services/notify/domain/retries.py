"""When to try a failed delivery again, and when to give up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)

    def delay_after(self, attempt: int) -> timedelta:
        """Exponential: first_delay, x2, x4, ... capped at max_delay."""
        delay: timedelta = self.first_delay * (2 ** max(attempt - 1, 0))
        return min(delay, self.max_delay)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt gave: `permanent` failures are not retried (a 4xx answer,
    a refused mailbox)."""

    ok: bool
    error: str | None = None
    permanent: bool = False


Next = Literal["delivered", "retry", "dead"]


def next_step(outcome: Outcome, attempt: int, policy: RetryPolicy) -> Next:
    if outcome.ok:
        return "delivered"
    if outcome.permanent or attempt >= policy.max_attempts:
        return "dead"
    return "retry"
