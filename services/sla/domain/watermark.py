"""When a partition's timers may fire.

A deadline fires only when every event that could prevent it has been processed. That is
answered by the event store (`services/sla/adapters/event_store_truth.py`), not by broker
metadata: the store's horizon is an instant before which every event is committed, and the
tracker brings a due ticket to the store's version before deciding. This module holds the
pure rules around it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class PartitionProgress:
    next_offset: int | None = None
    """Offset after the last processed event (None: nothing processed since assignment)."""

    def processed(self, offset: int) -> None:
        if self.next_offset is None or offset + 1 > self.next_offset:
            self.next_offset = offset + 1


def eligible_at(due: float, last_recorded: float | None, settle: float) -> float:
    """The earliest instant a deadline may fire (epoch seconds).

    A deadline still ahead when the ticket's newest event was recorded fires at the deadline
    itself (exact time). One already past by then belongs to a ticket logged late (its
    history is being backfilled): it waits `settle` seconds after that event, so that the
    rest of the burst (a response posted right after the opening) arrives before the breach
    is decided.
    """
    if last_recorded is None or due >= last_recorded:
        return due
    return last_recorded + settle


def lag(highwater: int | None, next_offset: int | None, committed: int | None) -> int | None:
    """Records on the partition not processed yet, from the fetch highwater (not ListOffsets,
    which the bundled broker answers wrong after a multi-record produce)."""
    if highwater is None:
        return None
    done = max(next_offset or 0, committed or 0)
    return max(highwater - done, 0)
