"""The tracker's ports over Faust: the state table, the producer, the consumer's positions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP

from services.common.kafka_security import kafka_kwargs
from services.sla.domain.records import OutRecord


class FaustStateTable:
    """Ticket key -> encoded state, in a Faust table's memory store.

    The tracker writes the changelog itself, to the partition of the ticket's own partition
    and acknowledged before offsets are committed (Faust would pick the partition from the
    current stream event, and a batch or a timer has none); Faust recovers the table from that
    changelog on assignment, so every key comes back on the worker that owns it.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, key: bytes) -> bytes | None:
        value = self._table.data.get(key)
        return value if value else None

    def remember(self, key: bytes, value: bytes) -> None:
        self._table.data[key] = value

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self._table.data.items())

    def discard(self, key: bytes) -> None:
        self._table.data.pop(key, None)

    def __len__(self) -> int:
        return len(self._table.data)


class KafkaPublisher:
    """Sends records with an aiokafka producer on the worker's loop and waits for the acks.

    Not Faust's producer: that one hands every send to another thread, which measured slower
    than the rest of the per-event work together. Records are grouped per partition into
    batches built here (`create_batch`/`send_batch`): one future per batch instead of one per
    record. Keyed records go to the partition the producer's default partitioner would pick
    (murmur2 of the key), so per-ticket order holds for consumers as with `send()`.
    """

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                acks="all",
                client_id="ticketflow-sla",
                max_batch_size=512 * 1024,
                **kafka_kwargs(),
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _partition(self, producer: AIOKafkaProducer, record: OutRecord) -> int:
        if record.partition is not None:
            return record.partition
        partitions = self._partitions.get(record.topic)
        if partitions is None:
            partitions = sorted(await producer.partitions_for(record.topic))
            self._partitions[record.topic] = partitions
        chosen: int = self._partitioner(record.key, partitions, partitions)
        return chosen

    async def publish(self, records: list[OutRecord]) -> None:
        if not records:
            return
        producer = await self._started()
        groups: dict[tuple[str, int], list[OutRecord]] = {}
        for record in records:
            partition = await self._partition(producer, record)
            groups.setdefault((record.topic, partition), []).append(record)
        pending = []
        for (topic, partition), group in groups.items():
            batch = producer.create_batch()
            for record in group:
                if not _append(batch, record):  # full: send it, start the next one
                    pending.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    if not _append(batch, record):
                        raise ValueError(f"a record for {topic} exceeds the maximum batch size")
            pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def _append(batch: Any, record: OutRecord) -> bool:
    appended = batch.append(
        timestamp=None, key=record.key, value=record.value, headers=record.headers
    )
    return appended is not None


class FaustOffsets:
    """The worker consumer's positions, for the lag metric: the highwater that fetch
    responses report (the bundled broker answers ListOffsets wrong after a multi-record
    produce, fetches right) and what the consumer committed. No firing decision reads these:
    those ask the event store."""

    def __init__(self, app: Any, topic: str) -> None:
        self._app = app
        self._topic = topic

    def highwater(self, partition: int) -> int | None:
        try:
            value = self._app.consumer.highwater(TP(self._topic, partition))
        except (AssertionError, AttributeError, KeyError, RuntimeError):
            return None  # not started, or the partition not fetched yet
        return int(value) if value is not None else None

    def committed(self, partition: int) -> int | None:
        # Faust keeps the offsets it committed or sought to on assignment in this mapping;
        # there is no public accessor.
        committed = getattr(self._app.consumer, "_committed_offset", {})
        value = committed.get(TP(self._topic, partition))
        return int(value) if value is not None else None
