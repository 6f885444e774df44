"""Notifications as the use cases handle them: a new one to log (`NewNotification`), one
claimed for a delivery attempt (`Notification`), the attempt's result (`Attempted`), and what
the deliverer can take on now (`Capacity`: lanes of sends in flight). Pure data."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

Override = tuple[str, str]
"""An account's own template: (subject, body) sources."""
Content = tuple[str, bytes]
"""What a notification says: its subject (empty when the channel has none) and body."""
EMAIL_LANE = "email"
"""The lane of every email; each webhook subscription is a lane of its own (its id)."""


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

    @property
    def lane(self) -> str:
        return EMAIL_LANE if self.channel == "email" else self.recipient


@dataclass(frozen=True, slots=True)
class Attempted:
    id: uuid.UUID
    status: str  # delivered | pending | dead
    next_attempt_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Capacity:
    """What the deliverer can start now: sends in flight per lane (a webhook subscription's
    id, or `email`), the cap per webhook lane and for the email lane, and how many more
    webhooks fit in its connection pool. In-flight rows are never claimed again."""

    in_flight: Sequence[uuid.UUID] = ()
    busy: Mapping[str, int] = field(default_factory=dict)
    per_subscription: int = 4
    email: int = 8
    webhooks_free: int = 64

    def full_lanes(self) -> list[str]:
        return [
            lane
            for lane, n in self.busy.items()
            if n >= (self.email if lane == EMAIL_LANE else self.per_subscription)
        ]
