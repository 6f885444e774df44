"""notify's planning and delivery ports on PostgreSQL (asyncpg): the tracking row, ticket
facts and logged notifications of one event commit together; a delivery's results commit
with their events in the service outbox."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.common import outbox
from services.common.tracking import first_time
from services.notify.adapters import store
from services.notify.adapters.secret_box import SecretBox
from services.notify.domain.notifications import (
    Attempted,
    Capacity,
    NewNotification,
    Notification,
)
from services.notify.domain.routing import Subscription
from shared.events.notification import NotificationEvent
from shared.topics import NOTIFICATIONS

SERVICE = "notify"


class PostgresPlanningReads:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def seen(self, event_id: uuid.UUID) -> bool:
        found: bool = await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)",
            SERVICE,
            event_id,
        )
        return found

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        return await store.ticket(self._conn, ticket_id)

    async def subscriptions(self, account: str) -> list[Subscription]:
        return await store.subscriptions(self._conn, account)

    async def account_contacts(self, account: str) -> list[str]:
        return await store.account_contacts(self._conn, account)

    async def template_override(self, account: str, name: str) -> tuple[str, str] | None:
        return await store.template_override(self._conn, account, name)


class PostgresPlanningWrites:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def first_time(self, event_id: uuid.UUID) -> bool:
        return await first_time(self._conn, SERVICE, event_id)

    async def remember_ticket(
        self,
        ticket_id: str,
        account: str,
        number: str | None,
        contact: str | None,
        subject: str | None,
        priority: str | None,
    ) -> None:
        await store.remember_ticket(
            self._conn, ticket_id, account, number, contact, subject, priority
        )

    async def insert(self, rows: Sequence[NewNotification], now: datetime) -> int:
        return await store.insert(self._conn, rows, now)


class PostgresPlanningStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[PostgresPlanningReads]:
        async with self._pool.acquire() as conn:
            yield PostgresPlanningReads(conn)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresPlanningWrites]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresPlanningWrites(conn)


def _claimed(row: asyncpg.Record) -> Notification:
    return Notification(
        id=row["id"],
        ticket_id=row["ticket_id"],
        account=row["account"],
        channel=row["channel"],
        recipient=row["recipient"],
        template=row["template"],
        source_event_id=row["source_event_id"],
        source_type=row["source_type"],
        subject=row["subject"],
        body=bytes(row["body"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        url=row["url"],
        secret_sealed=row["secret_sealed"],
        trace=row["traceparent"],
    )


class PostgresDeliveryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(
        self, now: datetime, lease_until: datetime, limit: int, capacity: Capacity
    ) -> list[Notification]:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await store.claim(conn, now, lease_until, limit, capacity)
        return [_claimed(row) for row in rows]

    async def release(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        async with self._pool.acquire() as conn:
            await store.release(conn, ids, now)

    async def record(
        self,
        results: Sequence[Attempted],
        events: Sequence[NotificationEvent],
        now: datetime,
        traces: Sequence[str | None] = (),
    ) -> None:
        records: list[tuple[str, dict[str, Any], str]] = [
            (e.ticket_id, e.model_dump(mode="json"), e.type) for e in events
        ]
        contexts = [{"traceparent": trace} if trace else {} for trace in traces] or None
        async with self._pool.acquire() as conn, conn.transaction():
            await outbox.append_many(conn, SERVICE, NOTIFICATIONS.name, records, contexts)
            await store.finish(conn, results, now)

    async def next_due(self, capacity: Capacity) -> datetime | None:
        return await store.next_due(self._pool, capacity)


class PostgresNotifyLog:
    def __init__(self, pool: asyncpg.Pool, secrets: SecretBox) -> None:
        self._pool = pool
        self._secrets = secrets

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await store.listing(self._pool, accounts, ticket_id, status, limit)
        return [dict(row) for row in rows]

    async def all_accounts(self) -> list[str]:
        return await store.all_accounts(self._pool)

    async def redeliver(self, ids: Sequence[uuid.UUID] | None, now: datetime) -> int:
        return await store.redeliver(self._pool, ids, now)

    async def create_subscription(
        self, account: str, url: str, events: Sequence[str]
    ) -> tuple[str, str]:
        return await store.create_subscription(self._pool, account, url, events, self._secrets)

    async def list_subscriptions(self, account: str | None) -> list[dict[str, Any]]:
        return [dict(row) for row in await store.list_subscriptions(self._pool, account)]

    async def disable_subscription(self, subscription_id: str) -> bool:
        return await store.disable_subscription(self._pool, subscription_id)

    async def put_template(self, account: str, name: str, subject: str, body: str) -> None:
        await store.put_template(self._pool, account, name, subject, body)

    async def status_counts(self) -> dict[str, int]:
        return await store.status_counts(self._pool)

    async def outbox_pending(self) -> int:
        return await outbox.pending(self._pool, SERVICE)
