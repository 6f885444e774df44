"""Pins the bundled broker's known quirks, so that a broker upgrade that changes them shows, and
proves that the code reading the topics does not depend on them.

Tansu answers ListOffsets (`end_offsets()`) with the offset after the *first* record of the
last multi-record produce, while fetch responses report the true highwater. Nothing in
ticketflow decides "have I seen everything?" from `end_offsets()`: the SLA worker asks the event
store, and the changelog reader behind `sla replay --live` reads up to the fetch highwater.

Tansu also answers a fetch that found nothing only at its `fetch_max_wait_ms`, even when a
record arrives meanwhile (Kafka answers as soon as one does). A consumer's latency is then a
share of its wait, so the Faust consumers ask for 50 ms (`faust_transport.py`, against
Faust's 1,500) and latency-sensitive readers for less.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_topics
from services.sla.adapters.changelog_reader import latest_states
from shared.topics import Topic


async def produce_in_one_request(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50)
    await producer.start()
    try:
        batch = producer.create_batch()
        for index in range(count):
            key = f"k{index}".encode()
            assert batch.append(key=key, value=b"v%d" % index, timestamp=None) is not None
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


async def test_end_offsets_lag_behind_a_multi_record_produce_but_fetches_do_not(
    infra: Infrastructure,
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic = f"quirk-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [Topic(topic, 1)])
    await produce_in_one_request(bootstrap, topic, 1)
    await produce_in_one_request(bootstrap, topic, 5)  # offsets 1-5 in one produce request
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        listed = (await consumer.end_offsets([tp]))[tp]
        fetched = []
        while len(fetched) < 6:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            if not batch:
                break
            fetched.extend(message.offset for message in batch[tp])
        assert fetched == list(range(6))
        assert consumer.highwater(tp) == 6  # what fetches report: right
        # The quirk: ListOffsets says 2 (one past the first record of the last produce).
        # If this starts failing with listed == 6, the broker was fixed; keep the rest.
        assert listed < 6, listed
    finally:
        await consumer.stop()
    # The changelog reader gets every record regardless.
    states = await latest_states(bootstrap, topic)
    assert sorted(states) == sorted(f"k{index}".encode() for index in range(5))


async def arrival_delay(bootstrap: str, topic: str, wait_ms: int) -> float:
    """Seconds from producing one record to a consumer, long-polling an empty partition
    with `wait_ms`, receiving it (the record is produced 100 ms into the poll)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=wait_ms
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        await consumer.getmany(timeout_ms=300)  # positioned at the end, polling
        await asyncio.sleep(0.1)
        sent = time.monotonic()
        await producer.send_and_wait(topic, b"v", key=b"k", partition=0)
        while not await consumer.getmany(timeout_ms=5000):
            pass
        return time.monotonic() - sent
    finally:
        await producer.stop()
        await consumer.stop()


async def test_an_empty_fetch_is_answered_at_its_max_wait_not_when_a_record_arrives(
    infra: Infrastructure,
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic = f"quirk-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [Topic(topic, 1)])
    # The quirk: with a 1.5 s wait (Faust's own), a record waits for the poll to time out.
    # If this starts failing near zero, the broker answers on arrival now; keep the rest.
    slow = min([await arrival_delay(bootstrap, topic, 1500) for _ in range(3)])
    assert slow > 0.3, slow
    # What the services rely on: a short wait bounds the delay.
    assert await arrival_delay(bootstrap, topic, 20) < 0.3
