"""Read a whole topic from the beginning, without trusting `end_offsets()`.

The bundled broker answers ListOffsets wrongly after a produce request carrying several records
(one past the first record of the batch, not past the last), so a reader that stops at
`end_offsets()` stops early. This one reads until every partition's position has reached the
highwater that the *fetch* responses report, and the fetches have come back empty for a while."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def header(self, name: str) -> str | None:
        raw = self.headers.get(name)
        return raw.decode() if raw is not None else None


async def read_topic(
    bootstrap_servers: str, topic: str, *, quiet_s: float = 3.0, limit_s: float = 90.0
) -> tuple[list[Record], dict[str, Any]]:
    """Every record of `topic`; and how the read went (records, highwaters, complete)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        request_timeout_ms=15_000,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    records: list[Record] = []
    began = time.monotonic()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return [], {"partitions": 0, "complete": False, "records": 0}
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        last_data = time.monotonic()
        complete = False
        while time.monotonic() - began < limit_s:
            batch = await consumer.getmany(*tps, timeout_ms=500, max_records=20_000)
            got = 0
            for tp, messages in batch.items():
                for m in messages:
                    records.append(
                        Record(
                            topic,
                            tp.partition,
                            m.offset,
                            int(m.timestamp),
                            m.key,
                            m.value,
                            {k: bytes(v) for k, v in (m.headers or ())},
                        )
                    )
                got += len(messages)
            if got:
                last_data = time.monotonic()
                continue
            caught_up = True
            for tp in tps:
                high = consumer.highwater(tp)
                if high is not None and await consumer.position(tp) < high:
                    caught_up = False
            if caught_up and time.monotonic() - last_data >= quiet_s:
                complete = True
                break
        highwaters = {tp.partition: consumer.highwater(tp) for tp in tps}
        # What ListOffsets says, for comparison only (a reader trusting it stops here).
        ends = await consumer.end_offsets(tps)
        end_offsets = {tp.partition: int(ends[tp]) for tp in tps}
        beyond = sum(1 for r in records if r.offset >= end_offsets[r.partition])
        return records, {
            "end_offsets_total": sum(end_offsets.values()),
            "records_past_end_offsets": beyond,
            "partitions": len(tps),
            "records": len(records),
            "complete": complete,
            "highwater_total": sum(h or 0 for h in highwaters.values()),
            "seconds": round(time.monotonic() - began, 2),
        }
    finally:
        await consumer.stop()
