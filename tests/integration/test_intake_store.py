"""The intake event store and outbox relay on real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database, ensure_topics
from services.intake.adapters.event_store import EventStore, VersionConflict, migrate
from services.intake.adapters.outbox_relay import Notifier, OutboxRelay, kafka_sender
from services.intake.domain.lifecycle import TransitionRefused
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope
from shared.events.codec import from_kafka
from shared.topics import Topic


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    url = await ensure_database(infra.database_url, f"intake_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=20)
    assert pool is not None
    await migrate(pool)
    await migrate(pool)  # idempotent
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('acme', 'Acme', 'voipster')"
    )
    try:
        yield pool
    finally:
        await pool.close()


def opened(ticket_id: uuid.UUID) -> Envelope:
    return Envelope(
        type="ticket.opened",
        source="intake",
        subject=str(ticket_id),
        time=datetime.now(UTC),
        sequence=1,
        account="acme",
        policy="voipster@1",
        data={"channel": "web", "priority": "normal", "ticket_number": f"TF-{ticket_id.hex[:9]}"},
    )


def comment(n: int = 0):  # type: ignore[no-untyped-def]
    def build(ticket: TicketRow) -> Envelope:
        return Envelope(
            type="ticket.comment_added",
            source="intake",
            subject=str(ticket.ticket_id),
            time=datetime.now(UTC),
            sequence=ticket.version + 1,
            account=ticket.account_id,
            policy=ticket.policy,
            data={"body": f"note {n}"},
        )

    return build


async def test_history_keeps_versions_and_db_recorded_time(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    ticket_id = uuid.uuid4()
    first = await store.open_ticket(opened(ticket_id))
    second = await store.append(ticket_id, comment(), expected_version=1)
    history = await store.history(ticket_id)
    assert [e.sequence for e in history] == [1, 2]
    assert history[0] == first and history[1] == second
    assert first.recorded_at is not None and second.recorded_at is not None
    assert first.recorded_at <= second.recorded_at


async def test_concurrent_writers_get_one_winner_and_no_lost_version(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    ticket_id = uuid.uuid4()
    await store.open_ticket(opened(ticket_id))
    results = await asyncio.gather(
        *(store.append(ticket_id, comment(i), expected_version=1) for i in range(10)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Envelope)]
    conflicts = [r for r in results if isinstance(r, VersionConflict)]
    assert len(winners) == 1 and len(conflicts) == 9
    assert all(c.current == 2 for c in conflicts)
    # Without If-Match every writer lands, each on its own version.
    await asyncio.gather(*(store.append(ticket_id, comment(i)) for i in range(10)))
    versions = [e.sequence for e in await store.history(ticket_id)]
    assert versions == list(range(1, 13))


async def test_a_burst_of_appends_is_written_in_shared_batches(pool: asyncpg.Pool) -> None:
    """Group commit: concurrent appends over many tickets from two stores (two workers) all
    land, each ticket's versions contiguous with an outbox row each, in fewer statements than
    appends; an append refused in the middle of a batch fails alone."""
    mine, theirs = EventStore(pool), EventStore(pool)
    tickets = [uuid.uuid4() for _ in range(20)]
    for ticket_id in tickets:
        await mine.open_ticket(opened(ticket_id))
    await mine.append(tickets[0], event("ticket.closed"))  # version 2; closing again is refused
    appends = [
        store.append(ticket_id, comment(n))
        for n in range(5)
        for ticket_id in tickets
        for store in (mine, theirs)
    ]
    refused = mine.append(tickets[0], event("ticket.closed"))
    results = await asyncio.gather(*appends[:100], refused, *appends[100:], return_exceptions=True)
    assert isinstance(results[100], TransitionRefused)
    assert all(isinstance(r, Envelope) for i, r in enumerate(results) if i != 100)
    for ticket_id in tickets:
        versions = [e.sequence for e in await mine.history(ticket_id)]
        base = 2 if ticket_id == tickets[0] else 1
        assert versions == list(range(1, base + 11))
    outbox = await pool.fetchval("SELECT count(*) FROM outbox")
    assert outbox == await pool.fetchval("SELECT count(*) FROM events")
    statements = mine.append_statements + theirs.append_statements
    assert statements < len(appends) / 2


def event(kind: str, **data: object):  # type: ignore[no-untyped-def]
    def build(ticket: TicketRow) -> Envelope:
        return ticket.next_event(kind, datetime.now(UTC), dict(data))

    return build


async def test_two_workers_interleaving_on_one_ticket(pool: asyncpg.Pool) -> None:
    """Two stores = two intake workers taking turns on one ticket: each append is decided on
    the ticket as it is, never a wrong 409, a wrong 422 or a lost version."""
    mine, theirs = EventStore(pool), EventStore(pool)
    ticket_id = uuid.uuid4()
    await mine.open_ticket(opened(ticket_id))
    await mine.append(ticket_id, comment(1))  # version 2
    await theirs.append(ticket_id, comment(2))  # version 3, behind mine's back
    assert (await mine.append(ticket_id, comment(3))).sequence == 4
    # If-Match of the version the other worker wrote: accepted.
    await theirs.append(ticket_id, comment(4))  # version 5
    assert (await mine.append(ticket_id, comment(5), expected_version=5)).sequence == 6
    # Mine closed the ticket, theirs reopened it; mine may comment.
    await mine.append(ticket_id, event("ticket.closed"))  # version 7
    await theirs.append(ticket_id, event("ticket.reopened"))  # version 8
    assert (await mine.append(ticket_id, comment(6))).sequence == 9
    # And a real conflict is still one, with the database's version.
    with pytest.raises(VersionConflict) as conflict:
        await mine.append(ticket_id, comment(7), expected_version=8)
    assert conflict.value.current == 9
    versions = [e.sequence for e in await mine.history(ticket_id)]
    assert versions == list(range(1, 10))


async def test_transition_that_makes_no_sense_is_refused(pool: asyncpg.Pool) -> None:
    store = EventStore(pool)
    ticket_id = uuid.uuid4()
    await store.open_ticket(opened(ticket_id))

    def reopen(ticket: TicketRow) -> Envelope:
        return Envelope(
            type="ticket.reopened",
            source="intake",
            subject=str(ticket.ticket_id),
            time=datetime.now(UTC),
            sequence=ticket.version + 1,
            account="acme",
            policy=ticket.policy,
            data={},
        )

    with pytest.raises(TransitionRefused, match="ticket.reopened does not apply"):
        await store.append(ticket_id, reopen)
    assert len(await store.history(ticket_id)) == 1


async def _consume(infra: Infrastructure, topic: str, expected: int) -> list[Envelope]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=f"t-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[Envelope] = []
    try:
        async with asyncio.timeout(30):
            while len(seen) < expected:
                for messages in (await consumer.getmany(timeout_ms=300)).values():
                    seen.extend(from_kafka(m.key, m.value, m.headers) for m in messages)
    finally:
        await consumer.stop()
    return seen


async def test_relay_publishes_in_ticket_order_and_survives_a_crash_mid_batch(
    pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    topic = Topic(f"test.relay.{uuid.uuid4().hex[:8]}", 4)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    store = EventStore(pool)
    tickets = [uuid.uuid4() for _ in range(5)]
    for ticket_id in tickets:
        await store.open_ticket(opened(ticket_id))
        for i in range(3):
            await store.append(ticket_id, comment(i))

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    real_send = kafka_sender(producer)
    sent = 0

    async def crashing_send(*args):  # type: ignore[no-untyped-def]
        nonlocal sent
        sent += 1
        if sent == 7:
            raise ConnectionError("relay killed mid-batch")
        return await real_send(*args)

    try:
        crashing = OutboxRelay(pool, crashing_send, topic.name, batch_size=100)
        with pytest.raises(ConnectionError):
            await crashing.drain_once()
        assert (await crashing.measure_lag()).lag_events == 20  # nothing marked
        relay = OutboxRelay(pool, real_send, topic.name, batch_size=100)
        assert await relay.drain_once() == 20
        assert await relay.drain_once() == 0
        assert (await relay.measure_lag()).lag_events == 0
    finally:
        await producer.stop()

    seen = await _consume(infra, topic.name, 26)
    unique = {e.id: e for e in seen}
    assert len(unique) == 20  # at least once: the 6 sent before the crash came twice
    for ticket_id in tickets:
        versions = [e.sequence for e in seen if e.subject == str(ticket_id)]
        deduped = list(dict.fromkeys(versions))
        assert deduped == [1, 2, 3, 4]


async def test_out_of_sequence_commits_are_not_skipped(
    pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    topic = Topic(f"test.relay.{uuid.uuid4().hex[:8]}", 2)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    store = EventStore(pool)
    slow_ticket, fast_ticket = uuid.uuid4(), uuid.uuid4()
    release = asyncio.Event()
    inserted = asyncio.Event()

    async def slow_open() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await store._insert(conn, opened(slow_ticket))  # gets the lower outbox id
            inserted.set()
            await release.wait()

    task = asyncio.create_task(slow_open())
    await inserted.wait()
    await store.open_ticket(opened(fast_ticket))  # higher id, commits first

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        relay = OutboxRelay(pool, kafka_sender(producer), topic.name)
        assert await relay.drain_once() == 1
        release.set()
        await task
        assert await relay.drain_once() == 1
    finally:
        await producer.stop()
    seen = await _consume(infra, topic.name, 2)
    assert {e.subject for e in seen} == {str(slow_ticket), str(fast_ticket)}


async def test_relay_run_is_woken_by_notify(pool: asyncpg.Pool, infra: Infrastructure) -> None:
    """A writer's commit pokes the notifier, whose NOTIFY wakes a relay listening elsewhere."""
    topic = Topic(f"test.relay.{uuid.uuid4().hex[:8]}", 2)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    notifier = Notifier(pool)
    store = EventStore(pool, on_commit=notifier.poke)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    stop = asyncio.Event()
    relay = OutboxRelay(pool, kafka_sender(producer), topic.name, poll_interval=30)
    runners = [asyncio.create_task(relay.run(stop)), asyncio.create_task(notifier.run(stop))]
    try:
        await asyncio.sleep(0.5)
        await store.open_ticket(opened(uuid.uuid4()))
        async with asyncio.timeout(5):  # far below the 30 s poll: the notification woke it
            while relay.stats.published < 1:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*runners)
        await producer.stop()
