"""The tracker's ports over Faust: the state table, the producer, the consumer's offsets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from services.sla.entrypoints.tracker import OutRecord


class FaustStateTable:
    """Ticket key -> encoded state, in a Faust table (memory store + changelog topic).

    Writes go to the store and to the changelog partition of the ticket's own partition
    (explicitly: the tracker writes a batch after the batch's events, and timers write
    outside any stream event), so recovery puts every key back on the worker that owns it.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, key: bytes) -> bytes | None:
        value = self._table.data.get(key)
        return value if value else None

    def put(self, key: bytes, partition: int, value: bytes) -> None:
        self._table.data[key] = value
        self._table.send_changelog(partition, key, value)

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self._table.data.items())

    def discard(self, key: bytes) -> None:
        self._table.data.pop(key, None)

    def __len__(self) -> int:
        return len(self._table.data)


class FaustPublisher:
    """Sends records with the app's producer and waits for the broker's acknowledgement."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def publish(self, records: list[OutRecord]) -> None:
        if not records:
            return
        producer = self._app.producer
        pending = [
            await producer.send(
                record.topic, record.key, record.value, None, None, record.headers or None
            )
            for record in records
        ]
        await asyncio.gather(*pending)


class FaustOffsets:
    """End offsets from the broker, and what the worker's consumer committed.

    End offsets are asked with a consumer of our own (no group) on this event loop: Faust's
    `highwaters` goes through its consumer thread and waits behind a fetch long-poll (measured
    up to 1.5 s on the local broker), which would make every breach that late.
    """

    def __init__(self, app: Any, topic: str, bootstrap_servers: str) -> None:
        self._app = app
        self._topic = topic
        self._bootstrap_servers = bootstrap_servers
        self._probe: AIOKafkaConsumer | None = None

    async def end_offsets(self, partitions: Iterable[int]) -> Mapping[int, int]:
        tps = [TopicPartition(self._topic, partition) for partition in partitions]
        if not tps:
            return {}
        if self._probe is None:
            probe = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap_servers,
                enable_auto_commit=False,
                client_id="ticketflow-sla-watermark",
            )
            await probe.start()
            self._probe = probe
        ends = await self._probe.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}

    async def close(self) -> None:
        if self._probe is not None:
            await self._probe.stop()
            self._probe = None

    def committed(self, partition: int) -> int | None:
        # Faust keeps the offsets it committed or sought to on assignment in this mapping;
        # there is no public accessor. Used only for partitions idle since assignment.
        committed = getattr(self._app.consumer, "_committed_offset", {})
        value = committed.get(TP(self._topic, partition))
        return int(value) if value is not None else None
