"""Capped exponential backoff with jitter, for every loop that retries through an outage.

The delay doubles from `initial` up to `cap`; each delay is drawn from its upper half
(`[d * (1 - jitter), d]`) so that replicas failing together do not retry in lockstep."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 0.2
    cap: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.cap:
            raise ValueError(f"backoff needs 0 < initial <= cap, got {self.initial}, {self.cap}")

    def next_delay(self) -> float:
        """The delay before the next attempt (and count this failure)."""
        ceiling = min(self.cap, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return ceiling * (1.0 - self.jitter * self.rand())

    def reset(self) -> None:
        self.attempts = 0
