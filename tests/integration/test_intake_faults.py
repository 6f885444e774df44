"""Intake through faults, on the real PostgreSQL and the real broker: poison input, records the
broker will never take, and a PostgreSQL stopped with `pg_ctl stop -m immediate` under it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from typer.testing import CliRunner

from services.cli.main import app as cli
from services.common.backoff import Backoff
from services.common.health import TaskHealth
from services.common.supervision import supervise
from services.devstack.broker import EmbeddedBroker
from services.devstack.infrastructure import Infrastructure
from services.devstack.postgres import EmbeddedPostgres, _bin_dir, _identity, _run_as
from services.devstack.provisioning import ensure_database, ensure_topics
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outbox_relay import OutboxRelay, kafka_sender
from services.intake.adapters.quarantine import QuarantineStore
from services.intake.bootstrap import build_app
from services.intake.domain.tickets import TicketRow
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.commands_consumer import CommandConsumer
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.settings import IntakeSettings
from shared.commands import TicketCommand
from shared.events import Envelope
from shared.events.codec import DecodeError, from_kafka
from shared.policy import load_policies
from shared.topics import TICKET_COMMANDS, TICKET_EVENTS, Topic

ADMIN = {"Authorization": "Bearer test-admin-token"}


# --- helpers ----------------------------------------------------------------------------------


async def migrated_pool(server_url: str, prefix: str) -> asyncpg.Pool:
    url = await ensure_database(server_url, f"{prefix}_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=20)
    assert pool is not None
    await migrate(pool)
    return pool


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(infra.database_url, "faults")
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES "
        "('acme', 'Acme', 'voipster'), ('globex', 'Globex', 'voipster')"
    )
    try:
        yield pool
    finally:
        await pool.close()


def opened(ticket_id: uuid.UUID, account: str = "acme") -> Envelope:
    return Envelope(
        type="ticket.opened",
        source="intake",
        subject=str(ticket_id),
        time=datetime.now(UTC),
        sequence=1,
        account=account,
        policy="voipster@1",
        data={"channel": "web", "priority": "normal", "ticket_number": f"TF-{ticket_id.hex[:9]}"},
    )


def comment(body: str) -> Callable[[TicketRow], Envelope]:
    def build(ticket: TicketRow) -> Envelope:
        return ticket.next_event("ticket.comment_added", datetime.now(UTC), {"body": body})

    return build


async def tickets_with_comments(
    store: EventStore, count: int, comments: int, account: str = "acme"
) -> list[uuid.UUID]:
    tickets = [uuid.uuid4() for _ in range(count)]
    for ticket_id in tickets:
        await store.open_ticket(opened(ticket_id, account))
        for n in range(comments):
            await store.append(ticket_id, comment(f"note {n}"))
    return tickets


async def consume(
    bootstrap: str, topic: str, done: Callable[[list[Envelope]], bool], timeout: float = 30
) -> list[Envelope]:
    """Events on `topic` from its start until `done(seen)`, then a short linger for extras.
    Records that are not events (other tests put some on the shared topic, to see them
    dead-lettered) are passed over, as a real consumer dead-letters them."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"faults-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[Envelope] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(seen):
                for messages in (await consumer.getmany(timeout_ms=300)).values():
                    seen.extend(_events(messages))
        for messages in (await consumer.getmany(timeout_ms=1000)).values():
            seen.extend(_events(messages))
    finally:
        await consumer.stop()
    return seen


def _events(messages: list[Any]) -> list[Envelope]:
    found = []
    for m in messages:
        try:
            found.append(from_kafka(m.key, m.value, m.headers))
        except DecodeError:
            continue
    return found


def versions(seen: list[Envelope], ticket_id: uuid.UUID) -> list[int]:
    return list(dict.fromkeys(e.sequence for e in seen if e.subject == str(ticket_id)))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:.0f}s: {what}") from None


@contextlib.asynccontextmanager
async def producer(bootstrap: str, max_request_size: int) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=max_request_size
    )
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


# --- request limits and unencodable text ------------------------------------------------------


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async def ready() -> dict[str, bool]:
        return {"database": True, "broker": True}

    deps = IntakeDeps(
        store=EventStore(pool),
        accounts=AccountStore(pool),
        idempotency=IdempotencyStore(pool),
        policies=load_policies(),
        now=lambda: datetime.now(UTC),
        random_digits=lambda n: str(uuid.uuid4().int)[:n],
        new_ticket_id=uuid.uuid4,
        admin_token="test-admin-token",
        readiness=ready,
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield http


async def api_key(http: httpx.AsyncClient, account: str) -> dict[str, str]:
    contact = await http.post(
        f"/v1/admin/accounts/{account}/contacts",
        headers=ADMIN,
        json={"email": f"noc@{account}.example"},
    )
    assert contact.status_code == 201, contact.text
    key = await http.post("/v1/admin/api-keys", headers=ADMIN, json={"accounts": [account]})
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


async def open_via_api(http: httpx.AsyncClient, auth: dict[str, str], account: str) -> str:
    opened = await http.post(
        "/v1/tickets",
        headers=auth,
        json={
            "account": account,
            "contact": f"noc@{account}.example",
            "channel": "web",
            "priority": "normal",
            "subject": "No dial tone on trunk 3",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket_id: str = opened.json()["ticket_id"]
    return ticket_id


async def test_oversized_bodies_and_fields_are_refused_naming_the_limit(
    client: httpx.AsyncClient,
) -> None:
    auth = await api_key(client, "acme")
    ticket = await open_via_api(client, auth, "acme")
    events = f"/v1/tickets/{ticket}/events"

    huge = await client.post(
        events,
        headers=auth,
        json={"type": "ticket.comment_added", "data": {"body": "x" * 1_200_000}},
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"
    assert huge.json()["limit_bytes"] == 262_144 and "262144 bytes" in huge.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"type": "ticket.comment_added", "data": {"body": "'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"}}'

    chunked = await client.post(
        events, headers={**auth, "Content-Type": "application/json"}, content=chunks()
    )
    assert chunked.status_code == 413, chunked.text
    assert chunked.json()["limit_bytes"] == 262_144

    long_text = await client.post(
        events,
        headers=auth,
        json={"type": "ticket.comment_added", "data": {"body": "z" * 100_000}},
    )
    assert long_text.status_code == 422, long_text.text
    problem = long_text.json()
    assert problem["field"] == "data.body" and problem["limit_chars"] == 65_536
    assert "data.body" in problem["detail"] and "65536" in problem["detail"]

    long_subject = await client.post(
        "/v1/tickets",
        headers=auth,
        json={
            "account": "acme",
            "contact": "noc@acme.example",
            "channel": "web",
            "priority": "normal",
            "subject": "s" * 1_001,
        },
    )
    assert long_subject.status_code == 422
    assert (long_subject.json()["field"], long_subject.json()["limit_chars"]) == ("subject", 1_000)

    history = (await client.get(f"/v1/tickets/{ticket}/events", headers=auth)).json()
    assert [e["type"] for e in history] == ["ticket.opened"]  # nothing of it was stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "ticket.comment_added", "data": {"body": "ok\udfff"}}, "data.body"),
        (
            {
                "type": "ticket.comment_added",
                "data": {"body": "x", "meta": {"tags": ["a", "\ud800"]}},
            },
            "data.meta.tags[1]",
        ),
        ({"type": "ticket.comment_added", "data": {"body": "x", "\udfff": 1}}, "data"),
    ],
)
async def test_unencodable_text_anywhere_in_a_body_is_a_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    auth = await api_key(client, "acme")
    ticket = await open_via_api(client, auth, "acme")
    refused = await client.post(  # the JSON escape `\\udfff`, as a client sends it
        f"/v1/tickets/{ticket}/events",
        headers={**auth, "Content-Type": "application/json"},
        content=json.dumps(body, ensure_ascii=True).encode(),
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert field in refused.json()["errors"][0]["message"]
    assert "UTF-8" in refused.json()["errors"][0]["message"]


# --- group commit: one bad append never fails another -----------------------------------------


def poisoned(kind: int) -> Callable[[TicketRow], Envelope]:
    """Two ways an event can be unwritable: a lone surrogate (the envelope refuses it while
    the batch is being built) and a NUL character (serialised fine, but PostgreSQL's jsonb
    refuses it, which fails the whole shared statement)."""
    body = ["lone \udfff surrogate", "bad \x00 byte"][kind % 2]

    def build(ticket: TicketRow) -> Envelope:
        return ticket.next_event("ticket.comment_added", datetime.now(UTC), {"body": body})

    return build


async def test_a_poison_append_fails_alone_and_the_other_tenant_is_untouched(
    pool: asyncpg.Pool,
) -> None:
    """Appends of two tenants share group-commit batches; tenant acme's poison events fail
    alone, each with its own error, and every append of tenant globex lands."""
    store = EventStore(pool)
    acme = await tickets_with_comments(store, 3, 0, "acme")
    globex = await tickets_with_comments(store, 16, 0, "globex")
    appends: list[Awaitable[Envelope]] = []
    for round_ in range(10):
        appends += [store.append(t, comment(f"globex {round_}")) for t in globex]
        appends += [store.append(t, poisoned(kind)) for kind, t in enumerate(acme)]
    results = await asyncio.gather(*appends, return_exceptions=True)

    good = [r for r in results if isinstance(r, Envelope)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(good) == 160 and len(failed) == 30
    assert all(e.account == "globex" for e in good)
    errors = {type(f).__name__ for f in failed}
    assert errors == {"ValidationError", "UntranslatableCharacterError"}
    for ticket_id in globex:
        assert [e.sequence for e in await store.history(ticket_id)] == list(range(1, 12))
    for ticket_id in acme:
        assert [e.sequence for e in await store.history(ticket_id)] == [1]
    assert store.append_statements < len(appends)  # still batched


# --- the relay's quarantine -------------------------------------------------------------------


async def test_a_record_the_producer_refuses_is_quarantined_and_its_neighbours_flow(
    pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    """A record over the producer's max (MessageSizeTooLargeError, never retriable) goes to
    the quarantine; every other ticket's events are published; its own ticket's later event
    is held; `retry` sends it again (refused again: a new entry), `drop` releases the ticket."""
    bootstrap = infra.kafka_bootstrap_servers
    topic = Topic(f"test.quarantine.{uuid.uuid4().hex[:8]}", 3)
    await ensure_topics(bootstrap, [topic])
    store = EventStore(pool)
    before = await tickets_with_comments(store, 3, 2)
    bad = (await tickets_with_comments(store, 1, 1))[0]
    await store.append(bad, comment("x" * 30_000))  # version 3: too big for this producer
    await store.append(bad, comment("after the big one"))  # version 4: held behind it
    after = await tickets_with_comments(store, 3, 2)

    async with producer(bootstrap, max_request_size=16_384) as kafka:
        relay = OutboxRelay(pool, kafka_sender(kafka), topic.name, batch_size=100)
        assert await relay.drain_once() == 22  # 20 published, 1 quarantined, 1 held behind it
        assert await relay.drain_once() == 0
        stats = await relay.measure_lag()
        assert (stats.published, stats.quarantined) == (20, 1)
        assert (stats.quarantine_open, stats.held_events, stats.lag_events) == (1, 2, 2)

        quarantine = QuarantineStore(pool)
        [entry] = await quarantine.entries()
        assert (entry.ticket_id, entry.version, entry.held_events) == (bad, 3, 1)
        assert entry.error_type == MessageSizeTooLargeError.__name__
        assert entry.record_bytes is not None and entry.record_bytes > 30_000

        await quarantine.retry(entry.id)  # the same producer refuses it again
        assert await relay.drain_once() == 2  # refused again; version 4 still held
        [again] = await quarantine.entries()
        assert again.id != entry.id and again.version == 3
        assert relay.stats.quarantined == 2

        dropped = await quarantine.drop(again.id)
        assert dropped.resolution == "dropped"
        assert await relay.drain_once() == 1  # version 4 flows now
        assert (await relay.measure_lag()).lag_events == 0

    seen = await consume(bootstrap, topic.name, lambda s: len({e.id for e in s}) >= 21)
    for ticket_id in before + after:
        assert versions(seen, ticket_id) == [1, 2, 3]
    assert versions(seen, bad) == [1, 2, 4]  # 3 dropped, and 4 only after the drop
    history = await store.history(bad)
    assert [e.sequence for e in history] == [1, 2, 3, 4]  # the store keeps it


async def test_a_retried_record_is_published_in_order_before_the_held_ones(
    pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    """After the broker's limit is raised, `retry` publishes the quarantined record and
    then the ones held behind it, in version order."""
    bootstrap = infra.kafka_bootstrap_servers
    topic = Topic(f"test.quarantine.{uuid.uuid4().hex[:8]}", 1)
    await ensure_topics(bootstrap, [topic])
    store = EventStore(pool)
    ticket = (await tickets_with_comments(store, 1, 0))[0]
    await store.append(ticket, comment("x" * 30_000))
    await store.append(ticket, comment("held 1"))
    await store.append(ticket, comment("held 2"))
    async with producer(bootstrap, max_request_size=16_384) as small:
        relay = OutboxRelay(pool, kafka_sender(small), topic.name)
        await relay.drain_once()
    [entry] = await QuarantineStore(pool).entries()
    assert entry.held_events == 2
    async with producer(bootstrap, max_request_size=1_048_576) as large:
        relay = OutboxRelay(pool, kafka_sender(large), topic.name)
        await QuarantineStore(pool).retry(entry.id)
        assert await relay.drain_once() == 3
    seen = await consume(bootstrap, topic.name, lambda s: len(s) >= 4)
    assert [e.sequence for e in seen] == [1, 2, 3, 4]
    assert await QuarantineStore(pool).entries() == []


async def test_a_broker_refusal_of_a_whole_producer_batch_blames_only_the_bad_record(
    pool: asyncpg.Pool,
) -> None:
    """A broker refuses a produce request (MESSAGE_TOO_LARGE) for every record in it; the
    relay sends those again one at a time and quarantines only the one refused alone."""
    store = EventStore(pool)
    tickets = await tickets_with_comments(store, 4, 1)
    bad = tickets[2]
    await store.append(bad, comment("B" * 5_000))
    published: list[tuple[bytes, bytes]] = []
    loop = asyncio.get_running_loop()
    in_flight: list[tuple[asyncio.Future[None], bytes, bytes]] = []

    async def send(topic: str, key: bytes, value: bytes, headers: list[Any]) -> Any:
        delivery: asyncio.Future[None] = loop.create_future()
        in_flight.append((delivery, key, value))
        loop.call_soon(settle)
        return delivery

    def settle() -> None:  # one "produce request" for everything in flight, as a broker does
        batch = [item for item in in_flight if not item[0].done()]
        in_flight.clear()
        too_large = any(len(value) > 4_000 for _, _, value in batch)
        for delivery, key, value in batch:
            if too_large:
                delivery.set_exception(MessageSizeTooLargeError())
            else:
                published.append((key, value))
                delivery.set_result(None)

    relay = OutboxRelay(pool, send, "ignored", batch_size=100)
    assert await relay.drain_once() == 9
    [entry] = await QuarantineStore(pool).entries()
    assert (entry.ticket_id, entry.version) == (bad, 3)
    assert len(published) == 8 and relay.stats.quarantined == 1
    assert (await relay.measure_lag()).lag_events == 1


async def test_quarantine_cli_lists_retries_and_drops(
    pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    store = EventStore(pool)
    ticket = (await tickets_with_comments(store, 1, 0))[0]
    await store.append(ticket, comment("x" * 30_000))
    async with producer(infra.kafka_bootstrap_servers, max_request_size=16_384) as kafka:
        await OutboxRelay(
            pool, kafka_sender(kafka), f"test.cli.{uuid.uuid4().hex[:6]}"
        ).drain_once()
    [entry] = await QuarantineStore(pool).entries()
    url = await _pool_url(pool)

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["intake", "quarantine", *args], env={"DATABASE_URL": url})

    helped = await asyncio.to_thread(run, "--help")
    assert helped.exit_code == 0 and "list" in helped.output and "drop" in helped.output
    listed = await asyncio.to_thread(run, "list")
    assert listed.exit_code == 0, listed.output
    assert f'"id": {entry.id}' in listed.output and str(ticket) in listed.output
    assert "MessageSizeTooLargeError" in listed.output
    retried = await asyncio.to_thread(run, "retry", str(entry.id))
    assert retried.exit_code == 0 and '"resolution": "retried"' in retried.output
    again = await asyncio.to_thread(run, "retry", str(entry.id))
    assert again.exit_code == 1 and "no open quarantine entry" in again.output
    await store.append(ticket, comment("y" * 30_000))
    async with producer(infra.kafka_bootstrap_servers, max_request_size=16_384) as kafka:
        await OutboxRelay(
            pool, kafka_sender(kafka), f"test.cli.{uuid.uuid4().hex[:6]}"
        ).drain_once()
    [fresh] = await QuarantineStore(pool).entries()
    dropped = await asyncio.to_thread(run, "drop", str(fresh.id))
    assert dropped.exit_code == 0 and '"resolution": "dropped"' in dropped.output
    everything = await asyncio.to_thread(run, "list", "--all")
    assert everything.output.count('"resolution"') == 2


async def _pool_url(pool: asyncpg.Pool) -> str:
    database = await pool.fetchval("SELECT current_database()")
    port = await pool.fetchval("SELECT inet_server_port()")
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


# --- PostgreSQL stopped under a running intake ------------------------------------------------


class StoppablePostgres:
    """A private embedded PostgreSQL (the session's shared one is never stopped)."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedPostgres(data_dir)

    def start(self) -> str:
        return self.server.start()

    def stop_immediate(self) -> None:
        """`pg_ctl stop -m immediate`: every backend killed, no checkpoint, crash recovery
        at the next start."""
        user = _run_as()
        subprocess.run(
            [
                str(_bin_dir() / "pg_ctl"),
                "stop",
                "-m",
                "immediate",
                "-w",
                "-D",
                str(self.server.data_dir / "data"),
            ],
            check=True,
            capture_output=True,
            **_identity(user),
        )
        process = self.server._process  # noqa: SLF001 - reap the postmaster we spawned
        if process is not None:
            process.wait(10)

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[StoppablePostgres]:
    server = StoppablePostgres(tmp_path / "pg")
    server.start()
    try:
        yield server
    finally:
        server.close()


async def test_relay_started_while_postgres_is_down_waits_and_then_publishes(
    private_pg: StoppablePostgres, infra: Infrastructure
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic = Topic(f"test.outage.{uuid.uuid4().hex[:8]}", 2)
    await ensure_topics(bootstrap, [topic])
    setup = await migrated_pool(private_pg.server.url, "outage")
    url = await _pool_url(setup)
    await setup.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('acme', 'A', 'voipster')"
    )
    tickets = await tickets_with_comments(EventStore(setup), 5, 2)
    await setup.close()

    await asyncio.to_thread(private_pg.stop_immediate)
    pool = await asyncpg.create_pool(url, min_size=0, max_size=4)  # connects on first use
    assert pool is not None
    stop = asyncio.Event()
    async with producer(bootstrap, max_request_size=1_048_576) as kafka:
        relay = OutboxRelay(pool, kafka_sender(kafka), topic.name, poll_interval=0.2)
        task = asyncio.create_task(relay.run(stop))
        try:
            await asyncio.sleep(2.0)
            assert not task.done()  # still trying, not dead
            assert relay.outage.failures >= 3 and relay.outage.ongoing
            await asyncio.to_thread(private_pg.start)

            async def all_published() -> bool:
                return relay.stats.published == 15

            await eventually(all_published, 30, "the relay publishes after PostgreSQL is back")
            assert not relay.outage.ongoing
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await pool.close()
    seen = await consume(bootstrap, topic.name, lambda s: len({e.id for e in s}) >= 15)
    for ticket_id in tickets:
        assert versions(seen, ticket_id) == [1, 2, 3]


async def test_intake_answers_503_while_postgres_is_down_and_recovers(
    private_pg: StoppablePostgres, infra: Infrastructure
) -> None:
    """The whole app (its lifespan: pool, migrations, relay, notifier, command consumer)
    over a PostgreSQL stopped with `-m immediate`: every endpoint is a 503 with Retry-After
    and a problem body, /readyz names the database and the relay; once PostgreSQL is back,
    appends succeed again and every accepted event reaches the topic."""
    bootstrap = infra.kafka_bootstrap_servers
    await ensure_topics(bootstrap, [TICKET_EVENTS, TICKET_COMMANDS])
    url = await ensure_database(private_pg.server.url, "intake_outage")
    settings = IntakeSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        admin_token="test-admin-token",
        environment="test",
        commands_group=f"faults-{uuid.uuid4().hex[:6]}",
        retry_after_seconds=3,
        backoff_max_seconds=0.5,
    )
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://intake") as http,
    ):
        created = await http.post(
            "/v1/admin/accounts",
            headers=ADMIN,
            json={"id": "acme", "name": "Acme", "policy": "voipster"},
        )
        assert created.status_code == 201, created.text
        auth = await api_key(http, "acme")
        ticket = await open_via_api(http, auth, "acme")
        events = f"/v1/tickets/{ticket}/events"
        for n in range(3):
            posted = await http.post(
                events,
                headers=auth,
                json={"type": "ticket.comment_added", "data": {"body": f"{n}"}},
            )
            assert posted.status_code == 201, posted.text
        assert (await http.get("/readyz")).status_code == 200

        await asyncio.to_thread(private_pg.stop_immediate)
        down = [
            await http.post(
                events, headers=auth, json={"type": "ticket.comment_added", "data": {"body": "d"}}
            ),
            await http.post(
                events,
                headers={**auth, "Idempotency-Key": "k-1"},
                json={"type": "ticket.comment_added", "data": {"body": "i"}},
            ),
            await http.get(f"/v1/tickets/{ticket}", headers=auth),
            await http.get(f"/v1/tickets/{ticket}/events", headers=auth),
            await http.get("/v1/tickets", headers=auth),
            await http.post(
                "/v1/tickets",
                headers=auth,
                json={
                    "account": "acme",
                    "contact": "noc@acme.example",
                    "channel": "web",
                    "priority": "normal",
                    "subject": "down",
                },
            ),
            await http.post(
                "/v1/admin/accounts/acme/contacts", headers=ADMIN, json={"email": "a@b.cc"}
            ),
        ]
        for response in down:
            assert response.status_code == 503, (response.request.url, response.text)
            assert response.headers["retry-after"] == "3"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == 503

        async def relay_reported() -> bool:
            ready = await http.get("/readyz")
            body = ready.json()
            return (
                ready.status_code == 503
                and not body["checks"]["database"]
                and "relay" in body["unhealthy_tasks"]
            )

        await eventually(relay_reported, 15, "/readyz reports the database and the relay")

        await asyncio.to_thread(private_pg.start)

        async def appends_again() -> bool:
            posted = await http.post(
                events, headers=auth, json={"type": "ticket.comment_added", "data": {"body": "up"}}
            )
            if posted.status_code == 201:
                return True
            assert posted.status_code == 503, posted.text
            return False

        await eventually(appends_again, 30, "appends succeed once PostgreSQL is back")
        for n in range(3):
            posted = await http.post(
                events,
                headers=auth,
                json={"type": "ticket.comment_added", "data": {"body": f"b{n}"}},
            )
            assert posted.status_code == 201, posted.text
        replayed = await http.post(
            events,
            headers={**auth, "Idempotency-Key": "k-1"},
            json={"type": "ticket.comment_added", "data": {"body": "i"}},
        )
        assert replayed.status_code == 201, replayed.text

        async def ready_again() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready_again, 30, "/readyz is 200 again with the relay working")
        history = (await http.get(events, headers=auth)).json()
        assert [e["sequence"] for e in history] == list(range(1, len(history) + 1))
        ids = {e["id"] for e in history}
        assert len(history) == 9  # opened, 3 before, 1 + 3 after, the idempotent one

        def everything(seen: list[Envelope]) -> bool:
            return ids <= {e.id.__str__() for e in seen}

        seen = await consume(bootstrap, TICKET_EVENTS.name, everything, timeout=30)
        assert versions(seen, uuid.UUID(ticket)) == list(range(1, 10))


async def test_command_consumer_keeps_its_command_through_a_postgres_outage(
    private_pg: StoppablePostgres, infra: Infrastructure
) -> None:
    """A command that arrives while PostgreSQL is down is retried (same record, with
    backoff) until it applies; its offset is committed only after that."""
    bootstrap = infra.kafka_bootstrap_servers
    topic = Topic(f"test.commands.{uuid.uuid4().hex[:8]}", 1)
    await ensure_topics(bootstrap, [topic, Topic(topic.dlq, 1)])
    pool = await migrated_pool(private_pg.server.url, "commands")
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('acme', 'A', 'voipster')"
    )
    store = EventStore(pool)
    ticket = (await tickets_with_comments(store, 1, 0))[0]
    for kind in ("ticket.resolved", "ticket.closure_requested"):
        await store.append(
            ticket, lambda row, kind=kind: row.next_event(kind, datetime.now(UTC), {})
        )
    close = TicketCommand(
        type="close_by_timeout",
        ticket_id=ticket,
        based_on_version=3,
        issued_at=datetime.now(UTC),
        due_at=datetime.now(UTC),
    )
    group = f"faults-{uuid.uuid4().hex[:6]}"
    async with producer(bootstrap, max_request_size=1_048_576) as kafka:
        consumer = AIOKafkaConsumer(
            topic.name,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        stop = asyncio.Event()
        handler = CommandConsumer(store, consumer, kafka, backoff=Backoff(0.05, 0.5))
        task = TaskHealth("commands")
        runner = asyncio.create_task(supervise(handler.run, stop, task))
        try:
            await asyncio.to_thread(private_pg.stop_immediate)
            key, value = close.to_record()
            await kafka.send_and_wait(topic.name, value, key=key)

            async def failing() -> bool:
                return task.state == "failing"

            await eventually(failing, 20, "the consumer retries while PostgreSQL is down")
            assert not runner.done() and handler.outcomes == {}
            partition = TopicPartition(topic.name, 0)
            assert await consumer.committed(partition) in (None, 0)
            await asyncio.to_thread(private_pg.start)

            async def applied() -> bool:
                return handler.outcomes.get("applied") == 1

            await eventually(applied, 30, "the command applies once PostgreSQL is back")

            async def committed() -> bool:
                return await consumer.committed(partition) == 1

            await eventually(committed, 10, "its offset is committed after its effect")
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)
            await consumer.stop()
    history = await store.history(ticket)
    assert [e.type for e in history][-1] == "ticket.closed_by_timeout"
    await pool.close()


async def test_relay_rides_out_a_broker_outage(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """A private broker (the session's is never stopped) goes away under a running relay:
    the relay backs off and retries; once a broker is back, every event that was accepted
    meanwhile is published (the bundled broker keeps no data across restarts, so the topic
    is created again, as a real cluster would still have it)."""
    broker = EmbeddedBroker(tmp_path / "broker")
    bootstrap = await asyncio.to_thread(broker.start)
    topic = Topic(f"test.broker-outage.{uuid.uuid4().hex[:8]}", 2)
    await ensure_topics(bootstrap, [topic])
    store = EventStore(pool)
    stop = asyncio.Event()
    kafka = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=2_000)
    await kafka.start()
    real_send = kafka_sender(kafka)
    topic_missing = False
    in_flight = 0

    async def send(topic: str, key: bytes, value: bytes, headers: list[Any]) -> Any:
        # Between the restart and re-creating the topic the fresh in-memory broker does not
        # have it yet (a real cluster would); to the relay that is still "broker unavailable".
        # A batch the producer still holds from before the restart would be acked by the
        # topic-less broker and dropped (a Tansu quirk), so the restart waits for none.
        nonlocal in_flight
        if topic_missing:
            raise KafkaConnectionError("the restarted broker has no topics yet")
        delivery = await real_send(topic, key, value, headers)  # the producer's future
        in_flight += 1

        def delivered(_: Any) -> None:
            nonlocal in_flight
            in_flight -= 1

        delivery.add_done_callback(delivered)
        return delivery

    relay = OutboxRelay(pool, send, topic.name, poll_interval=0.2, backoff=Backoff(0.05, 0.5))
    runner = asyncio.create_task(relay.run(stop))
    try:
        first = await tickets_with_comments(store, 2, 1)

        def published(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return relay.stats.published >= count

            return check

        await eventually(published(4), 20, "published before the outage")
        await asyncio.to_thread(broker.stop)
        during = await tickets_with_comments(store, 3, 1)
        relay.wake()

        async def failing() -> bool:
            return relay.outage.failures >= 2

        await eventually(failing, 30, "the relay retries while the broker is down")
        assert not runner.done()
        topic_missing = True

        async def settled() -> bool:
            return in_flight == 0

        await eventually(settled, 30, "sends begun during the outage have failed")
        await asyncio.to_thread(broker.start)
        await ensure_topics(bootstrap, [topic])
        topic_missing = False
        await eventually(published(10), 60, "published after the broker is back")
        assert (await relay.measure_lag()).lag_events == 0
    finally:
        stop.set()
        await asyncio.wait_for(runner, 15)
        await kafka.stop()
    try:
        seen = await consume(bootstrap, topic.name, lambda s: len({e.id for e in s}) >= 6)
    finally:
        await asyncio.to_thread(broker.stop)
    for ticket_id in during:
        assert versions(seen, ticket_id) == [1, 2]
    assert all(e.subject not in {str(t) for t in first} for e in seen)  # a new, empty broker


async def test_intake_started_while_postgres_is_down_waits_for_it(
    private_pg: StoppablePostgres, infra: Infrastructure
) -> None:
    """A pod that starts during an outage waits for the database (retrying with backoff)
    instead of crash-looping, then migrates and serves."""
    bootstrap = infra.kafka_bootstrap_servers
    await ensure_topics(bootstrap, [TICKET_EVENTS, TICKET_COMMANDS])
    url = await ensure_database(private_pg.server.url, "intake_late")
    await asyncio.to_thread(private_pg.stop_immediate)
    settings = IntakeSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        environment="test",
        commands_enabled=False,
        billing_facts_enabled=False,
        backoff_max_seconds=0.5,
    )
    app = build_app(settings)
    started = asyncio.Event()
    finish = asyncio.Event()

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await finish.wait()

    server = asyncio.create_task(serve())
    try:
        await asyncio.sleep(2.0)
        assert not started.is_set() and not server.done()  # waiting, not dead
        await asyncio.to_thread(private_pg.start)
        await asyncio.wait_for(started.wait(), 30)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True, "broker": True, "tasks": True}
        assert set(ready.json()["tasks"]) == {"notifier", "relay"}
    finally:
        finish.set()
        await asyncio.wait_for(server, 30)
