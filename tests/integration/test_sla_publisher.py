"""The SLA worker's batch publisher on the real broker: keyed records land in the partition
the producer's default partitioner picks (so per-ticket order matches `send()`), in order, and
explicit partitions are kept."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_topics
from services.sla.adapters.faust_io import KafkaPublisher
from services.sla.domain.records import OutRecord
from shared.topics import Topic


async def test_batches_go_where_send_would_put_them_in_order(infra: Infrastructure) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic = Topic(f"test.publisher.{uuid.uuid4().hex[:8]}", 12)
    await ensure_topics(bootstrap, [topic])
    keys = [f"ticket-{index}".encode() for index in range(40)]
    publisher = KafkaPublisher(bootstrap)
    records = [
        OutRecord(topic.name, key, f"batch-{round_}".encode(), [("ce_type", b"x")])
        for round_ in range(3)
        for key in keys
    ]
    records.append(OutRecord(topic.name, b"pinned", b"pinned", partition=7))
    await publisher.publish(records)
    await publisher.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for key in keys:
        await producer.send_and_wait(topic.name, b"send", key=key)
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic.name, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: dict[bytes, list[tuple[int, bytes]]] = {}
    try:
        while sum(len(v) for v in seen.values()) < len(records) + len(keys):
            batch = await consumer.getmany(timeout_ms=2000)
            assert batch, "records missing"
            for messages in batch.values():
                for message in messages:
                    assert message.key is not None and message.value is not None
                    seen.setdefault(message.key, []).append((message.partition, message.value))
    finally:
        await consumer.stop()
    for key in keys:
        partitions = {partition for partition, _ in seen[key]}
        assert len(partitions) == 1, f"{key!r} spread over {partitions}"
        assert [value for _, value in seen[key]] == [b"batch-0", b"batch-1", b"batch-2", b"send"]
    assert len({seen[key][0][0] for key in keys}) > 1, "every key in one partition"
    assert seen[b"pinned"] == [(7, b"pinned")]
