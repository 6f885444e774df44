"""The notify API's use cases: the delivery log of the key's accounts, and for the operator
webhook subscriptions, account templates and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Gauge

from services.common.ops import OUTBOX_PENDING
from services.notify.domain.routing import TEMPLATES, UnknownTemplate
from services.notify.service_layer.planning import SERVICE
from services.notify.service_layer.ports import DestinationCheck, NotifyLog, TemplateCheck

QUEUED = Gauge("ticketflow_notifications", "Notifications waiting or given up", ["status"])


class NotifyAdmin:
    """`wake`: the delivery loop's wake-up (redelivered notifications are due at once)."""

    def __init__(
        self,
        log: NotifyLog,
        templates: TemplateCheck,
        destinations: DestinationCheck,
        now: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self._log = log
        self._templates = templates
        self._destinations = destinations
        self._now = now
        self._wake = wake

    async def notifications(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return await self._log.listing(accounts, ticket_id, status, limit)

    async def subscribe(self, account: str, url: str, events: Sequence[str]) -> tuple[str, str]:
        """(id, signing secret); `DestinationRefused` when notify may not send to `url`."""
        await self._destinations.check_url(url)
        return await self._log.create_subscription(account, url, events)

    async def subscriptions(self, account: str | None) -> list[dict[str, Any]]:
        return await self._log.list_subscriptions(account)

    async def unsubscribe(self, subscription_id: str) -> bool:
        """Nothing new is sent to it, queued deliveries go dead; False when not active."""
        return await self._log.disable_subscription(subscription_id)

    async def put_template(self, account: str, name: str, subject: str, body: str) -> None:
        """`UnknownTemplate`, or `TemplateError` when the override fails on sample data."""
        if name not in TEMPLATES:
            raise UnknownTemplate(name)
        await self._templates.validate(name, subject, body)
        await self._log.put_template(account, name, subject, body)

    async def dead_letters(self, account: str | None, limit: int) -> list[dict[str, Any]]:
        accounts = [account] if account else await self._log.all_accounts()
        return await self._log.listing(accounts, None, "dead", limit)

    async def redeliver(self, ids: Sequence[uuid.UUID] | None) -> int:
        count = await self._log.redeliver(ids, self._now())
        self._wake()
        return count

    async def refresh_metrics(self) -> None:
        counts = await self._log.status_counts()
        for status in ("pending", "dead"):
            QUEUED.labels(status).set(counts.get(status, 0))
        OUTBOX_PENDING.labels(SERVICE).set(await self._log.outbox_pending())
