"""The escalation consumer on the real broker: a malformed record goes to the dead-letter
topic with its origin in headers, and the record after it on the same partition is still
processed (the partition moves on)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.consumer import ConsumerLoop
from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_topics
from services.escalation.bootstrap import PostgresEscalator as Escalator
from services.escalation.entrypoints.consumer import EscalationConsumer
from shared.policy import policies_by_ref
from shared.topics import SLA_EVENTS, topics_with_dead_letters
from tests.integration.escalation_support import (
    Clock,
    account_with_matrix,
    breach,
    service_database,
)

NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.escalation.adapters", 3)
    try:
        yield pool
    finally:
        await pool.close()


async def dead_letters(bootstrap: str, key: bytes) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(
        SLA_EVENTS.dlq,
        bootstrap_servers=bootstrap,
        group_id=f"dlq-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return [dict(m.headers) for ms in batch.values() for m in ms if m.key == key]
    finally:
        await consumer.stop()


async def test_a_malformed_record_is_dead_lettered_and_the_partition_moves_on(
    pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    await ensure_topics(bootstrap, topics_with_dead_letters())
    await account_with_matrix(pool, "acme", "voximplant", {1: ["oncall@acme.example"]})
    ticket = str(uuid.uuid4())
    # No ticket.opened on the ticket topic: the number comes with the SLA record itself.
    event = breach(ticket, NOW, ticket_number="TF-261117")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    consumer = AIOKafkaConsumer(
        SLA_EVENTS.name,
        bootstrap_servers=bootstrap,
        group_id=f"escalation-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        # Same key: same partition, the bad record first.
        await producer.send_and_wait(SLA_EVENTS.name, b"{not json", key=ticket.encode())
        key, value, headers = event.to_record()
        await producer.send_and_wait(SLA_EVENTS.name, value, key=key, headers=headers)
        escalator = Escalator(pool, policies_by_ref(), Clock(NOW))
        loop = ConsumerLoop("escalation", consumer, producer, EscalationConsumer(escalator).handle)
        stop = asyncio.Event()
        runner = asyncio.create_task(loop.run(stop))
        try:
            async with asyncio.timeout(60):
                while not await pool.fetchval(
                    "SELECT count(*) FROM escalations WHERE ticket_id = $1", ticket
                ):
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            await runner
    finally:
        await consumer.stop()
        await producer.stop()
    row = await pool.fetchrow(
        "SELECT status, level, ticket_number FROM escalations WHERE ticket_id = $1", ticket
    )
    assert row is not None and (row["status"], row["level"]) == ("raised", 1)
    assert row["ticket_number"] == "TF-261117"
    published = await pool.fetch(
        "SELECT value, headers FROM service_outbox WHERE service = 'escalation'"
    )
    mine = [r for r in published if orjson.loads(r["value"])["ticket_id"] == ticket]
    assert mine
    for record in mine:
        value = orjson.loads(record["value"])
        headers = dict(orjson.loads(record["headers"]))
        assert value["ticket_number"] == "TF-261117"
        assert headers["ce_id"] == value["id"] and headers["ce_source"] == "escalation"
        assert headers["ce_subject"] == ticket and headers["ce_specversion"] == "1.0"
        assert headers["ce_type"] == value["type"] and headers["ce_time"]
    letters = await dead_letters(bootstrap, ticket.encode())
    assert len(letters) == 1
    assert letters[0]["dlq_reason"] == b"undecodable"
    assert letters[0]["dlq_service"] == b"escalation"
    assert letters[0]["dlq_source_topic"] == SLA_EVENTS.name.encode()
    assert letters[0]["dlq_source_offset"].isdigit()
