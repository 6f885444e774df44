"""Ticket events through the real Kafka-protocol broker with the shared envelope."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_topics
from shared.events import Envelope
from shared.events.codec import from_kafka, to_kafka
from shared.topics import Topic


async def test_events_keep_per_ticket_order_key_and_headers(infra: Infrastructure) -> None:
    topic = Topic(f"test.ticket-events.{uuid.uuid4().hex[:8]}", partitions=4)
    assert await ensure_topics(infra.kafka_bootstrap_servers, [topic]) == [topic.name]
    assert await ensure_topics(infra.kafka_bootstrap_servers, [topic]) == []

    tickets = [f"tkt-{i}" for i in range(5)]
    sent: list[Envelope] = []
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for sequence in range(1, 4):
            for ticket in tickets:
                event_type = "ticket.opened" if sequence == 1 else "ticket.comment_added"
                data = (
                    {"channel": "web", "priority": "normal"}
                    if sequence == 1
                    else {"body": f"note {sequence}"}
                )
                env = Envelope(
                    type=event_type,
                    source="test",
                    subject=ticket,
                    time=datetime.now(UTC),
                    sequence=sequence,
                    account="acme",
                    policy="voipster@1",
                    data=data,
                )
                record = to_kafka(env)
                await producer.send_and_wait(
                    topic.name, record.value, key=record.key, headers=list(record.headers)
                )
                sent.append(env)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[Envelope] = []
    partitions_by_ticket: dict[str, set[int]] = {}
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=500)
                for tp, messages in batch.items():
                    for message in messages:
                        env = from_kafka(message.key, message.value, message.headers)
                        received.append(env)
                        partitions_by_ticket.setdefault(env.subject, set()).add(tp.partition)
    finally:
        await consumer.stop()

    assert sorted(received, key=lambda e: str(e.id)) == sorted(sent, key=lambda e: str(e.id))
    assert all(len(parts) == 1 for parts in partitions_by_ticket.values())
    for ticket in tickets:
        sequences = [env.sequence for env in received if env.subject == ticket]
        assert sequences == [1, 2, 3]
