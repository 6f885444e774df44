"""Intake learns from ticketflow.billing that an account's TAM hours of a month are used up
(real PostgreSQL): noted once, other billing events ignored, garbage dead-lettered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from services.common.consumer import BadMessage
from services.devstack.infrastructure import Infrastructure
from services.intake.adapters.accounts import AccountStore
from services.intake.entrypoints.billing_consumer import BillingFactsConsumer
from shared.events.billing import BillingEvent, TamBody, billing_event_id
from tests.integration.escalation_support import service_database

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class Record:
    value: bytes
    topic: str = "ticketflow.billing"
    key: bytes = b"vox"
    headers: tuple[tuple[str, bytes], ...] = ()


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.billing.adapters", 8)
    try:
        yield pool
    finally:
        await pool.close()


def _event(kind: str, month: str = "2026-11") -> Record:
    event = BillingEvent(
        id=billing_event_id(kind, "vox", month),
        type=kind,  # type: ignore[arg-type]
        account="vox",
        policy="voximplant@1",
        ticket_id=str(uuid.uuid4()),
        at=AT,
        causation_id=uuid.uuid4(),
        tam=TamBody(month=month, used_minutes=541, budget_hours=8),
    )
    return Record(event.model_dump_json().encode())


async def test_a_used_up_tam_month_is_noted_once(pool: asyncpg.Pool) -> None:
    accounts = AccountStore(pool)
    facts = BillingFactsConsumer(accounts, consumer=None, producer=None)
    assert await facts.handle(_event("tam.budget_warning")) == "ignored"
    assert not await accounts.tam_exhausted("vox", "2026-11")
    assert await facts.handle(_event("tam.budget_exhausted")) == "recorded"
    assert await facts.handle(_event("tam.budget_exhausted")) == "duplicate"
    assert await accounts.tam_exhausted("vox", "2026-11")
    assert not await accounts.tam_exhausted("vox", "2026-12")
    with pytest.raises(BadMessage) as garbage:
        await facts.handle(Record(b'{"type": "tam.budget_exhausted"}'))
    assert garbage.value.reason == "undecodable"
