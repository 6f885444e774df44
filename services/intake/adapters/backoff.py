"""Exponential backoff with a cap and jitter, for loops that must outlive an outage."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """`next_delay()` doubles from `initial` up to `cap` (each delay drawn between half and
    all of it, so replicas that failed together do not retry together); `reset()` after a
    success starts again from `initial`."""

    initial: float = 0.1
    cap: float = 5.0
    factor: float = 2.0
    _current: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.cap:
            raise ValueError("backoff needs 0 < initial <= cap")
        self._current = self.initial

    def next_delay(self) -> float:
        delay = self._current
        self._current = min(self.cap, self._current * self.factor)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self._current = self.initial

    @property
    def failing(self) -> bool:
        """True after a failure that no success has followed yet."""
        return self._current > self.initial
