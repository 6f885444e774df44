"""Every consumer's lag metric: the highwater its fetch saw minus the record after the last
it handled, per partition; a partition taken away by a rebalance stops being reported."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from typing import Any

from prometheus_client import REGISTRY

from services.common.consumer import ConsumerLoop

TP = namedtuple("TP", "topic partition")


class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = "t.lag", partition, offset
        self.key, self.value, self.headers = b"k", b"v", []


class Consumer:
    def __init__(self) -> None:
        self.batches: list[dict[Any, list[Message]]] = [
            {TP("t.lag", 0): [Message(0, 0), Message(0, 1)], TP("t.lag", 1): [Message(1, 7)]},
            {},
        ]
        self.ends = {TP("t.lag", 0): 10, TP("t.lag", 1): 8}
        self.held = {TP("t.lag", 0), TP("t.lag", 1)}

    async def getmany(self, timeout_ms: int) -> dict[Any, list[Message]]:
        return self.batches.pop(0) if self.batches else {}

    def highwater(self, tp: Any) -> int | None:
        return self.ends.get(tp)

    def assignment(self) -> set[Any]:
        return set(self.held)

    async def commit(self) -> None:
        return None


def lag(partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "ticketflow_consumer_lag",
        {"service": "lagtest", "topic": "t.lag", "partition": str(partition)},
    )


async def test_lag_per_partition_then_forgotten_when_revoked() -> None:
    async def handle(message: Any) -> str:
        return "applied"

    consumer = Consumer()
    loop = ConsumerLoop("lagtest", consumer, None, handle)

    await loop.poll_once(asyncio.Event())
    assert (lag(0), lag(1)) == (8.0, 0.0)  # 10 - (1 + 1); 8 - (7 + 1)

    consumer.held = {TP("t.lag", 0)}  # a rebalance took partition 1 away
    await loop.poll_once(asyncio.Event())
    assert lag(0) == 8.0 and lag(1) is None
