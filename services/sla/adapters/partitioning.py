"""The partition Kafka's default partitioner gives a ticket key (murmur2, as the relay's
producer does), for the tickets the worker learns of from the event store."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

_PARTITIONER = DefaultPartitioner()


def partition_of(key: bytes, partitions: int) -> int:
    every = list(range(partitions))
    chosen: int = _PARTITIONER(key, every, every)
    return chosen
