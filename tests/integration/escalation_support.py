"""A fresh database with intake's tables (accounts, contacts, API keys) for escalation and
notify tests, and a clock tests move by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import orjson

from services.common.runtime import migrate_service
from services.devstack.provisioning import ensure_database
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import migrate as migrate_intake
from shared.events.sla import SlaEvent, sla_event_id


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def service_database(server_url: str, package: str, lock_id: int) -> asyncpg.Pool:
    url = await ensure_database(server_url, f"svc_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=8)
    assert pool is not None
    await migrate_intake(pool)
    await migrate_service(pool, package, lock_id)
    return pool


async def account_with_matrix(
    pool: asyncpg.Pool, account: str, policy: str, levels: dict[int, list[str]]
) -> str:
    """An account with escalation contacts per level; returns an API key for it."""
    accounts = AccountStore(pool)
    await accounts.create(account, account, policy, None, None, None, {})
    for level, emails in levels.items():
        for email in emails:
            await accounts.add_contact(account, email, "escalation", None, level)
    return (await accounts.issue_key([account], "test")).secret


async def outbox_records(pool: asyncpg.Pool, service: str) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT value FROM service_outbox WHERE service = $1 ORDER BY id", service
    )
    return [orjson.loads(row["value"]) for row in rows]


def breach(
    ticket: str,
    at: datetime,
    *,
    account: str = "acme",
    policy: str = "voximplant@1",
    priority: str = "sev2",
    ticket_number: str | None = None,
) -> SlaEvent:
    """The SLA service's `sla.breached` of the ticket's first response, at `at`."""
    return SlaEvent(
        id=sla_event_id(ticket, "sla.breached", "first_response", at),
        type="sla.breached",
        ticket_id=ticket,
        ticket_number=ticket_number,
        account=account,
        policy=policy,
        priority=priority,
        metric="first_response",
        at=at,
        emitted_at=at,
        based_on_version=1,
    )
