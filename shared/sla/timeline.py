"""What goes into the core (ticket events) and what comes out (derived SLA events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A ticket event as the core needs it: type, event time, payload, version."""

    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    sequence: int | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:  # aware = has a tzinfo (every tzinfo we use gives offsets)
            raise ValueError(f"{self.type}: event time must carry a timezone offset")


class Derived(NamedTuple):
    """An SLA event the core derived, stamped with the instant it describes. (A named tuple:
    the core makes one or two per event; every field is given, so no shared default.)"""

    type: str
    at: datetime
    metric: str | None
    data: dict[str, Any]
