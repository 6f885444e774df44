"""Notifications as the use cases handle them: a new one to log (`NewNotification`), one
claimed for a delivery attempt (`Notification`), the attempt's result (`Attempted`), how a
channel's sends share the deliverer (`LaneRule`), and what the deliverer can take on now
(`Capacity`: lanes of sends in flight). Pure data."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

Override = tuple[str, str]
"""An account's own template: (subject, body) sources."""
Content = tuple[str, bytes]
"""What a notification says: its subject (empty when the channel has none) and body."""


@dataclass(frozen=True, slots=True)
class NewNotification:
    id: uuid.UUID
    ticket_id: str
    account: str
    channel: str
    recipient: str
    template: str
    source_event_id: uuid.UUID
    source_type: str
    subject: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Notification(NewNotification):
    """A logged notification claimed for a delivery attempt (its `attempts` counts this one).
    A webhook's `url` and `secret_sealed` are its subscription's (None: disabled / not
    sealed yet); `at` is when this attempt is made, set by the deliverer as it sends."""

    attempts: int
    created_at: datetime
    url: str | None = None
    secret_sealed: str | None = None
    at: datetime | None = None
    trace: str | None = None
    """The W3C traceparent it was planned in (None: not traced)."""


@dataclass(frozen=True, slots=True)
class Attempted:
    id: uuid.UUID
    status: str  # delivered | pending | dead
    next_attempt_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class LaneRule:
    """How one channel's sends share the deliverer: one lane for the whole channel (email),
    or one lane per recipient (`per_recipient`: each webhook subscription), each lane with
    `slots` sends in flight at most, and at most `together` in flight across all the
    channel's lanes (None: no such cap; webhooks: their connection pool)."""

    slots: int
    per_recipient: bool = False
    together: int | None = None

    def lane(self, channel: str, recipient: str) -> str:
        return recipient if self.per_recipient else channel


@dataclass(frozen=True, slots=True)
class Capacity:
    """What the deliverer can start now: sends in flight per lane (`busy`), the cap of the
    one-lane channels' lanes (`slots`, by channel name) and of every other lane (one
    recipient's: `recipient_slots`), and how many more sends fit across all the lanes of the
    channels capped together (`channel_free`, by channel name). In-flight rows are never
    claimed again."""

    in_flight: Sequence[uuid.UUID] = ()
    busy: Mapping[str, int] = field(default_factory=dict)
    slots: Mapping[str, int] = field(default_factory=dict)
    recipient_slots: int = 4
    channel_free: Mapping[str, int] = field(default_factory=dict)

    def lane_slots(self, lane: str) -> int:
        return self.slots.get(lane, self.recipient_slots)

    def full_lanes(self) -> list[str]:
        return [lane for lane, n in self.busy.items() if n >= self.lane_slots(lane)]

    def full_channels(self) -> list[str]:
        return [channel for channel, free in self.channel_free.items() if free <= 0]
