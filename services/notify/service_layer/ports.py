"""What notify's use cases need from the outside, as protocols: the PostgreSQL adapter
(`adapters/postgres.py`), the per-channel renderers and senders implement them, and the unit
tests' in-memory fakes do too.

A channel (`email`, `webhook`) has one `Renderer` (what a planned notification says) and one
`Sender` (how it goes out), registered with its route and lanes as a `ChannelSpec`
(`channels.py`) in `bootstrap.py`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from services.notify.domain.notifications import (
    Attempted,
    Capacity,
    Content,
    NewNotification,
    Notification,
    Override,
)
from services.notify.domain.retries import Outcome
from services.notify.domain.routing import PlannedNotification, Subscription
from shared.events.notification import NotificationEvent


class PlanningReads(Protocol):
    """What planning reads before it renders (no transaction is held while rendering)."""

    async def seen(self, event_id: uuid.UUID) -> bool:
        """Whether the event's tracking row is there already (read only)."""
        ...

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        """notify's row of the ticket ({} when it has not seen it)."""
        ...

    async def subscriptions(self, account: str) -> list[Subscription]:
        """The account's active webhook subscriptions."""
        ...

    async def account_contacts(self, account: str) -> list[str]:
        """The account's approved contacts' addresses (intake's `contacts`, role
        `approved`): who is told about the account's prepaid time and TAM budget."""
        ...

    async def template_override(self, account: str, name: str) -> Override | None: ...


class PlanningWrites(Protocol):
    """One transaction: tracking row, ticket facts and logged notifications commit together."""

    async def first_time(self, event_id: uuid.UUID) -> bool:
        """Record the event's tracking row; False when it was handled already."""
        ...

    async def remember_ticket(
        self,
        ticket_id: str,
        account: str,
        number: str | None,
        contact: str | None,
        subject: str | None,
        priority: str | None,
    ) -> None:
        """Store the facts given; a None fact keeps the stored one."""
        ...

    async def insert(self, rows: Sequence[NewNotification], now: datetime) -> int:
        """Log the notifications not logged yet (due at `now`); return how many were new."""
        ...


class PlanningStore(Protocol):
    def reading(self) -> AbstractAsyncContextManager[PlanningReads]: ...

    def transaction(self) -> AbstractAsyncContextManager[PlanningWrites]: ...


class Renderer(Protocol):
    """One channel's content: what its planned notifications of one event say."""

    def templates(self, planned: Sequence[PlannedNotification]) -> set[str]:
        """The templates an account may override among these (their overrides are read)."""
        ...

    async def render(
        self,
        planned: Sequence[PlannedNotification],
        ticket: Mapping[str, Any],
        overrides: Mapping[str, Override | None],
    ) -> dict[uuid.UUID, Content]:
        """Each planned notification's content, by notification id."""
        ...


class Sender(Protocol):
    """One channel's delivery: never raises for a failed delivery, says so in the Outcome."""

    async def send(self, notification: Notification) -> Outcome: ...


class DeliveryStore(Protocol):
    async def claim(
        self, now: datetime, lease_until: datetime, limit: int, capacity: Capacity
    ) -> list[Notification]:
        """Due notifications that fit `capacity`, their attempt counted and leased until
        `lease_until` (committed before they are sent)."""
        ...

    async def release(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        """Hand claimed notifications back unsent (attempt not counted), due at `now`."""
        ...

    async def record(
        self,
        results: Sequence[Attempted],
        events: Sequence[NotificationEvent],
        now: datetime,
        traces: Sequence[str | None] = (),
    ) -> None:
        """In one transaction: the attempts' results and their events (outbox), each event
        in the trace of `traces` at its index (none given: the current one)."""
        ...

    async def next_due(self, capacity: Capacity) -> datetime | None:
        """When the next notification that fits `capacity` is due."""
        ...


class NotifyLog(Protocol):
    """The delivery log, subscriptions and account templates, as the admin API sees them."""

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Logged notifications of `accounts`, newest first (without their bodies)."""
        ...

    async def all_accounts(self) -> list[str]: ...

    async def redeliver(self, ids: Sequence[uuid.UUID] | None, now: datetime) -> int:
        """Queue dead notifications (`ids`, or all) again, attempts reset; how many."""
        ...

    async def create_subscription(
        self, account: str, url: str, events: Sequence[str]
    ) -> tuple[str, str]:
        """A new subscription: (id, signing secret), the secret stored sealed only."""
        ...

    async def list_subscriptions(self, account: str | None) -> list[dict[str, Any]]: ...

    async def disable_subscription(self, subscription_id: str) -> bool:
        """False when there is no active subscription of that id."""
        ...

    async def put_template(self, account: str, name: str, subject: str, body: str) -> None: ...

    async def status_counts(self) -> dict[str, int]: ...

    async def outbox_pending(self) -> int: ...


class TemplateCheck(Protocol):
    async def validate(self, name: str, subject: str, body: str) -> None:
        """Raise `TemplateError` unless the override renders within its budget and caps."""
        ...


class DestinationCheck(Protocol):
    async def check_url(self, url: str) -> None:
        """Raise `DestinationRefused` unless notify may send to `url`."""
        ...
