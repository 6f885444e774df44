"""SLA commands applied by intake: once, only at the version they were based on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database, ensure_topics
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.domain.tickets import TicketRow
from services.intake.entrypoints.commands_consumer import CommandConsumer
from shared.commands import TicketCommand
from shared.events import Envelope
from shared.topics import Topic

NOW = datetime(2026, 11, 17, 12, tzinfo=UTC)


@pytest.fixture
async def store(infra: Infrastructure) -> AsyncIterator[EventStore]:
    url = await ensure_database(infra.database_url, f"cmd_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
    assert pool is not None
    await migrate(pool)
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('vox', 'V', 'voximplant')"
    )
    try:
        yield EventStore(pool)
    finally:
        await pool.close()


def event(kind: str, **data: object):  # type: ignore[no-untyped-def]
    def build(ticket: TicketRow) -> Envelope:
        return Envelope(
            type=kind,
            source="test",
            subject=str(ticket.ticket_id),
            time=NOW,
            sequence=ticket.version + 1,
            account=ticket.account_id,
            policy=ticket.policy,
            data=data,
        )

    return build


async def ticket_awaiting_closure(store: EventStore) -> uuid.UUID:
    ticket_id = uuid.uuid4()
    await store.open_ticket(
        Envelope(
            type="ticket.opened",
            source="test",
            subject=str(ticket_id),
            time=NOW,
            sequence=1,
            account="vox",
            policy="voximplant@1",
            data={
                "channel": "email",
                "priority": "sev2",
                "plan": "gold",
                "ticket_number": f"TF-{ticket_id.hex[:10]}",
            },
        )
    )
    await store.append(ticket_id, event("ticket.resolved"))
    await store.append(ticket_id, event("ticket.closure_requested"))
    return ticket_id


def command(
    ticket_id: uuid.UUID, version: int, kind: str = "close_by_timeout", **extra: object
) -> TicketCommand:
    return TicketCommand(
        type=kind,
        ticket_id=ticket_id,
        based_on_version=version,  # type: ignore[arg-type]
        issued_at=NOW + timedelta(hours=48),
        due_at=NOW + timedelta(hours=48),
        **extra,
    )  # type: ignore[arg-type]


async def test_commands_apply_once_and_stale_ones_are_superseded(
    store: EventStore, infra: Infrastructure
) -> None:
    topic = Topic(f"test.commands.{uuid.uuid4().hex[:8]}", 2)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic, Topic(topic.dlq, 2)])
    closing = await ticket_awaiting_closure(store)
    replied = await ticket_awaiting_closure(store)
    await store.append(replied, event("ticket.customer_replied", body="not fixed"))
    downgrade = await ticket_awaiting_closure(store)
    await store.append(downgrade, event("ticket.reopened"))
    await store.append(downgrade, event("ticket.awaiting_customer"))

    close = command(closing, 3)
    records = [
        close.to_record(),
        close.to_record(),  # redelivered
        command(replied, 3).to_record(),  # the customer replied after the SLA service looked
        command(downgrade, 5, "severity_downgrade", priority="sev3").to_record(),
        (str(closing).encode(), b'{"type": "explode"}'),  # malformed
    ]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=f"intake-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic.name, value, key=key)
        handler = CommandConsumer(store, consumer, producer)
        stop = asyncio.Event()
        runner = asyncio.create_task(handler.run(stop))
        async with asyncio.timeout(30):
            while sum(handler.outcomes.values()) < 4 or "dead_lettered" not in str(
                await _dlq_count(infra, topic.dlq)
            ):
                await asyncio.sleep(0.2)
        stop.set()
        await runner
    finally:
        await consumer.stop()
        await producer.stop()

    assert handler.outcomes == {"applied": 2, "duplicate": 1, "superseded": 1}
    closed = await store.history(closing)
    assert [e.type for e in closed][-1] == "ticket.closed_by_timeout"
    assert closed[-1].time == NOW + timedelta(hours=48)
    assert sum(e.type == "ticket.closed_by_timeout" for e in closed) == 1
    assert [e.type for e in await store.history(replied)][-1] == "ticket.customer_replied"
    lowered = await store.history(downgrade)
    assert (lowered[-1].type, lowered[-1].data["priority"]) == ("ticket.severity_changed", "sev3")


async def _dlq_count(infra: Infrastructure, dlq: str) -> str:
    consumer = AIOKafkaConsumer(
        dlq,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=f"dlq-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=1000)
        messages = [m for ms in batch.values() for m in ms]
        if messages:
            headers = dict(messages[0].headers)
            assert headers["dlq_reason"] == b"invalid_command"
            assert headers["dlq_service"] == b"intake"
            assert headers["dlq_source_offset"] == b"4" or headers["dlq_source_offset"].isdigit()
            return "dead_lettered"
        return ""
    finally:
        await consumer.stop()
