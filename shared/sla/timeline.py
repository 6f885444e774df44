"""What goes into the core (ticket events) and what comes out (derived SLA events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A ticket event as the core needs it: type, event time, payload, version, and when the
    store recorded it (`recorded_at`; None: at its event time). The core folds event time
    only; the arrival instant matters to whoever drives the timers (the SLA worker by the wall
    clock, `ticketflow sla simulate` by `recorded_at`)."""

    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    sequence: int | None = None
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:  # aware = has a tzinfo (every tzinfo we use gives offsets)
            raise ValueError(f"{self.type}: event time must carry a timezone offset")
        if self.recorded_at is not None:
            if self.recorded_at.tzinfo is None:
                raise ValueError(f"{self.type}: recorded_at must carry a timezone offset")
            if self.recorded_at < self.at:
                raise ValueError(f"{self.type}: recorded_at is earlier than the event time")

    @property
    def arrived_at(self) -> datetime:
        """When the event reached the store: `recorded_at`, else its event time."""
        return self.recorded_at if self.recorded_at is not None else self.at


class Emitted(NamedTuple):
    """An SLA event the core derived, stamped with the instant it describes. (A named tuple:
    the core makes one or two per event; every field is given, so no shared default.)"""

    type: str
    at: datetime
    metric: str | None
    data: dict[str, Any]
