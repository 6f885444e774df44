"""A background loop's sign of life, read by `/readyz` to tell a working task from a stuck one."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Heartbeat:
    """`beat()` after every pass that did its job; `failed()` when a pass failed (the loop
    keeps retrying, but its beat goes stale). `clock` is monotonic seconds."""

    name: str
    clock: Callable[[], float] = time.monotonic
    last_beat: float = field(init=False)
    last_error: str | None = field(default=None, init=False)
    failures: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.last_beat = self.clock()

    def beat(self) -> None:
        self.last_beat = self.clock()
        self.last_error = None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"

    def age(self) -> float:
        """Seconds since the last good pass."""
        return self.clock() - self.last_beat
