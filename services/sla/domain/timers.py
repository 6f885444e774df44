"""The worker's timer heap: each tracked ticket's earliest pending deadline.

One entry per ticket (its earliest timer); a rescheduled ticket pushes a new entry and the old
one is skipped when it surfaces (lazy deletion), so updates are O(log n) and nothing is scanned.
The heap is rebuilt from the state table when partitions are assigned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, bytes, int]] = []
        self._due: dict[bytes, float] = {}

    def __len__(self) -> int:
        """Tickets with a pending timer."""
        return len(self._due)

    def schedule(self, key: bytes, partition: int, due: float | None) -> bool:
        """Set the ticket's earliest timer (None: no timer). True when it moved earlier."""
        current = self._due.get(key)
        if due == current:
            return False
        if due is None:
            del self._due[key]
            return False
        self._due[key] = due
        heapq.heappush(self._heap, (due, key, partition))
        head = self.earliest()
        return head is not None and due <= head

    def earliest(self) -> float | None:
        heap = self._heap
        while heap:
            due, key, _ = heap[0]
            if self._due.get(key) == due:
                return due
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float, limit: int) -> list[tuple[bytes, int, float]]:
        """Remove and return up to `limit` tickets whose timer is due at `now`."""
        out: list[tuple[bytes, int, float]] = []
        heap = self._heap
        while heap and len(out) < limit:
            due, key, partition = heap[0]
            if due > now:
                break
            heapq.heappop(heap)
            if self._due.get(key) == due:
                del self._due[key]
                out.append((key, partition, due))
        return out

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the timers of partitions this worker no longer owns."""
        gone = set(partitions)
        kept = [entry for entry in self._heap if entry[2] not in gone]
        keys = {key for _, key, _ in kept}
        self._due = {key: due for key, due in self._due.items() if key in keys}
        heapq.heapify(kept)
        self._heap = kept

    def clear(self) -> None:
        self._heap = []
        self._due = {}
