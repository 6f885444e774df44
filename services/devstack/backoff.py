"""How long `ticketflow dev` waits before restarting a process that died (pure: no clock).

The delay doubles with each death in a row, from `initial` up to `maximum`. A process that
stayed up for `stable_after` seconds before dying starts a new streak, so a service that
crashes once a day is restarted at once, and one that crashes on start does not spin."""

from __future__ import annotations

from dataclasses import dataclass

# Past this many doublings every delay is `maximum` anyway; bounding the exponent keeps a
# very long streak from overflowing the float.
_MAX_DOUBLINGS = 64


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    stable_after: float = 60.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError(f"unusable backoff policy: {self}")

    def delay(self, streak: int) -> float:
        """Seconds to wait before the restart that follows the `streak`-th death in a row."""
        if streak < 1:
            raise ValueError(f"streak counts deaths and starts at 1, got {streak}")
        doublings = min(streak - 1, _MAX_DOUBLINGS)
        return min(self.maximum, self.initial * self.factor**doublings)

    def next_streak(self, streak: int, uptime: float) -> int:
        """The streak after a death that ended `uptime` seconds of running."""
        return 1 if uptime >= self.stable_after else streak + 1
