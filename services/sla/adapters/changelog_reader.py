"""The live SLA state, read from the state table's changelog (latest record per ticket)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_security import kafka_kwargs


async def latest_states(bootstrap_servers: str, topic: str) -> dict[bytes, bytes]:
    """Ticket key -> newest encoded state, reading every partition up to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **kafka_kwargs(),
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        if not tps:
            return {}
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        states: dict[bytes, bytes] = {}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.key is None:
                        continue
                    if message.value:
                        states[message.key] = message.value
                    else:
                        states.pop(message.key, None)
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return states
    finally:
        await consumer.stop()
