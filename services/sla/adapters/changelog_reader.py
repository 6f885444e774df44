"""The live SLA state, read from the state table's changelog (latest record per ticket)."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_security import kafka_kwargs

READ_TIMEOUT_S = 300.0


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
        # The end of each partition is the highwater that fetch responses report: the bundled
        # broker answers ListOffsets (`end_offsets()`) short after a multi-record produce,
        # which made this reader stop early and `replay --live` report false differences.
        remaining = set(tps)
        states: dict[bytes, bytes] = {}
        deadline = time.monotonic() + READ_TIMEOUT_S
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: no end reached within {READ_TIMEOUT_S:.0f} s")
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=10_000)
            for messages in batch.values():
                for message in messages:
                    if message.key is None:
                        continue
                    if message.value:
                        states[message.key] = message.value
                    else:
                        states.pop(message.key, None)
            for tp in list(remaining):
                highwater = consumer.highwater(tp)
                if highwater is not None and await consumer.position(tp) >= highwater:
                    remaining.discard(tp)
        return states
    finally:
        await consumer.stop()
