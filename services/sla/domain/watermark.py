"""How far a partition's timers may fire: the watermark.

A breach is emitted only when every event of its partition that could prevent it has been
processed. A worker that has processed everything in the partition (its next offset reached the
partition's end offset, asked of the broker at decision time) may fire up to the wall clock; a
worker lagging behind may fire only up to the store time of the newest event it processed.
Both minus a grace that covers the outbox relay's publishing delay.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class PartitionProgress:
    next_offset: int | None = None
    """Offset after the last processed event (None: nothing processed since assignment)."""
    recorded_until: float = 0.0
    """Epoch seconds: newest store time among the processed events."""

    def processed(self, offset: int, recorded_at: float | None) -> None:
        if self.next_offset is None or offset + 1 > self.next_offset:
            self.next_offset = offset + 1
        if recorded_at is not None and recorded_at > self.recorded_until:
            self.recorded_until = recorded_at


def watermark(
    progress: PartitionProgress,
    committed: int | None,
    end_offset: int | None,
    now: float,
    grace: float,
) -> float:
    """Epoch seconds before which the partition's timers may fire."""
    done = progress.next_offset
    if committed is not None and (done is None or committed > done):
        done = committed
    if done is not None and end_offset is not None and done >= end_offset:
        return now - grace
    return min(progress.recorded_until, now) - grace
