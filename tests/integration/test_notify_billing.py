"""Billing events on notify (issue 18) against a real SMTP server (aiosmtpd) and real
PostgreSQL: `prepaid.exhausted` emails the account's approved contacts once, however often it
is delivered; a charge emails nobody; an undecodable billing record goes to the billing topic's
dead-letter topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from services.common.consumer import ConsumerLoop
from services.devstack.infrastructure import Infrastructure
from services.intake.adapters.accounts import AccountStore
from services.notify.domain.retries import RetryPolicy
from shared.events.notification import notification_id
from shared.topics import BILLING
from tests.integration.escalation_support import outbox_records, service_database
from tests.integration.receivers import smtp_server
from tests.integration.test_notify import Notify
from tests.unit.test_notify_billing import billing, record

APPROVED = ["noc@acme.example", "finance@acme.example"]
ESCALATION = "oncall@provider.example"
EXHAUSTED_SUBJECT = "Prepaid support time used up: Emergency Support Services stop"


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.notify.adapters", 2)
    try:
        accounts = AccountStore(pool)
        await accounts.create("acme", "acme", "voice1", None, None, None, {})
        for email in APPROVED:
            await accounts.add_contact("acme", email, "approved", None, None)
        await accounts.add_contact("acme", ESCALATION, "escalation", None, 1)
        yield pool
    finally:
        await pool.close()


@dataclass
class DeadRecord:
    """A consumed Kafka record of `ticketflow.billing` that does not decode, as the consumer
    loop hands it over (with its partition and offset)."""

    value: bytes | None
    key: bytes = b"t-1"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = BILLING.name
    partition: int = 0
    offset: int = 0


async def test_prepaid_exhausted_emails_the_approved_contacts_once_even_when_redelivered(
    pool: asyncpg.Pool,
) -> None:
    ticket = str(uuid.uuid4())
    event = billing("prepaid.exhausted", ticket=ticket)
    with smtp_server() as (smtp_port, mails):
        notify = Notify(pool, smtp_port, RetryPolicy())
        assert await notify.consumer.handle(record(event)) == "planned"
        await notify.drain()
        assert await notify.consumer.handle(record(event)) == "duplicate"  # redelivered
        await notify.drain()
        await notify.webhooks.close()
    assert sorted(m["To"] for m in mails) == sorted(APPROVED), "not the escalation contact"
    assert {m["Subject"] for m in mails} == {EXHAUSTED_SUBJECT}
    body = mails[0].get_payload()
    assert "used up" in body and "ESS at emergency rates stops now" in body
    assert {m["Message-ID"] for m in mails} == {
        f"<{notification_id(event.id, email, 'email')}@ticketflow>" for email in APPROVED
    }
    rows = await pool.fetch(
        "SELECT recipient, template, status, attempts, ticket_id, source_type "
        "FROM notifications ORDER BY recipient"
    )
    assert [tuple(r) for r in rows] == [
        (email, "prepaid_exhausted", "delivered", 1, ticket, "prepaid.exhausted")
        for email in sorted(APPROVED)
    ]
    outcomes = await outbox_records(pool, "notify")
    assert [o["type"] for o in outcomes] == ["notification.delivered"] * 2


async def test_a_charge_emails_nobody(pool: asyncpg.Pool) -> None:
    with smtp_server() as (smtp_port, mails):
        notify = Notify(pool, smtp_port, RetryPolicy())
        charge = billing("charge.assessed", ticket=str(uuid.uuid4()))
        assert await notify.consumer.handle(record(charge)) == "nothing_to_send"
        await notify.drain()
        await notify.webhooks.close()
    assert mails == []
    assert await pool.fetchval("SELECT count(*) FROM notifications") == 0


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes | None, *, key: bytes | None, headers: Any
    ) -> None:
        self.sent.append((topic, key, value, list(headers)))


async def test_an_undecodable_billing_record_is_dead_lettered_to_the_billing_dlq(
    pool: asyncpg.Pool,
) -> None:
    producer = RecordingProducer()
    notify = Notify(pool, 25, RetryPolicy())
    loop = ConsumerLoop("notify", None, producer, notify.consumer.handle)
    bad = DeadRecord(b'{"type": "prepaid.exhausted", "account": "acme"}', offset=41)
    assert await loop.handle_one(bad, asyncio.Event()) == "dead_lettered"
    await notify.webhooks.close()
    [(topic, key, value, headers)] = producer.sent
    assert (topic, key, value) == (f"{BILLING.name}.dlq", b"t-1", bad.value)
    named = dict(headers)
    assert (named["dlq_reason"], named["dlq_source_topic"], named["dlq_source_offset"]) == (
        b"undecodable",
        BILLING.name.encode(),
        b"41",
    )
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == 0
    assert await pool.fetchval("SELECT count(*) FROM notifications") == 0
