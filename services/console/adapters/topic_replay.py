"""Reading topics from their beginning to their current end, for `ticketflow console
rebuild`: no consumer group (nothing committed; the running console's group keeps its
offsets), every partition assigned, each record handed to `handle` in partition order."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_security import kafka_kwargs

READ_TIMEOUT_S = 600.0


async def replay_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    handle: Callable[[Any], Awaitable[None]],
    progress: Callable[[int, int], None],
    *,
    every: int = 1000,
) -> int:
    """Hand every record of `topics` up to each partition's end (as of the read) to
    `handle`; `progress(read, partitions_left)` every `every` records and at the end.
    The number of records read."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **kafka_kwargs(),
    )
    await consumer.start()
    try:
        await consumer.topics()
        tps = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or set())
        ]
        if not tps:
            progress(0, 0)
            return 0
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # The end is the highwater the fetch responses report (the bundled broker answers
        # ListOffsets short right after a produce: see the SLA changelog reader).
        remaining = set(tps)
        read = 0
        deadline = time.monotonic() + READ_TIMEOUT_S
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no end reached within {READ_TIMEOUT_S:.0f} s")
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5_000)
            for messages in batch.values():
                for message in messages:
                    await handle(message)
                    read += 1
                    if read % every == 0:
                        progress(read, len(remaining))
            for tp in list(remaining):
                highwater = consumer.highwater(tp)
                if highwater is not None and await consumer.position(tp) >= highwater:
                    remaining.discard(tp)
        progress(read, 0)
        return read
    finally:
        await consumer.stop()
