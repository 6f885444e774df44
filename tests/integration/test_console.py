"""The console on real PostgreSQL: the read model behind the projection's scenarios (the
same as on the in-memory one), the consumer's records and dead letters, and the web app
(sign-in cookie and CSRF, the at-risk page and JSON scoped to the key's accounts, SSE)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.consumer import BadMessage
from services.console.adapters.postgres import PostgresReadModel
from services.console.bootstrap import build_app, console_deps, rebuild
from services.console.entrypoints.consumer import ConsoleConsumer
from services.console.entrypoints.sessions import CSRF_COOKIE, SESSION_COOKIE
from services.console.entrypoints.web import create_app
from services.console.service_layer.ports import AtRiskQuery
from services.console.service_layer.projection import Projection
from services.console.settings import ConsoleSettings
from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database, ensure_topics
from services.intake.adapters.event_store import migrate as migrate_intake
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.events.escalation import EscalationEvent, escalation_event_id
from shared.events.sla import SlaEvent, sla_event_id
from shared.topics import ESCALATIONS, SLA_EVENTS, TICKET_EVENTS, topics_with_dead_letters
from tests.integration.escalation_support import account_with_matrix, service_database
from tests.unit.test_console_projection import SCENARIOS, Scenario

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ADMIN = "test-admin-token-0123456789abcdef"
SECRET = "test-console-secret-0123456789abcdef"


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.console.adapters", 9)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_the_projection_on_the_postgres_read_model(
    pool: asyncpg.Pool, scenario: Scenario
) -> None:
    await scenario(PostgresReadModel(pool))


async def test_clear_forgets_the_rows_and_the_tracking_rows(pool: asyncpg.Pool) -> None:
    model = PostgresReadModel(pool)
    consumer = consumer_of(model)
    record = opened_record("t-clear", "acme", "TF-1")
    assert await consumer.handle(record) == "applied"
    assert await consumer.handle(record) == "duplicate"
    await model.clear()
    assert (await model.status()).changes == 0
    assert await consumer.handle(record) == "applied"


# --- records --------------------------------------------------------------------------------


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Any
    partition: int = 0
    offset: int = 0


def consumer_of(model: PostgresReadModel) -> ConsoleConsumer:
    return ConsoleConsumer(Projection(model))


def opened_record(ticket: str, account: str, number: str, priority: str = "emergency") -> Record:
    envelope = Envelope(
        type="ticket.opened",
        source="intake",
        subject=ticket,
        time=NOW - timedelta(minutes=5),
        sequence=1,
        account=account,
        policy="voipster@1",
        data={"channel": "web", "priority": priority, "ticket_number": number},
    )
    kafka = to_kafka(envelope)
    return Record(TICKET_EVENTS.name, kafka.key, kafka.value, list(kafka.headers))


def sla_record(kind: str, ticket: str, account: str, at: datetime, due: datetime) -> Record:
    event = SlaEvent(
        id=sla_event_id(ticket, kind, "first_response", at),
        type=kind,
        ticket_id=ticket,
        account=account,
        policy="voipster@1",
        priority="emergency",
        metric="first_response",
        at=at,
        emitted_at=at,
        based_on_version=1,
        data={"due_at": due.isoformat()},
    )
    key, value, headers = event.to_record()
    return Record(SLA_EVENTS.name, key, value, headers)


def escalation_record(kind: str, ticket: str, account: str, level: int) -> Record:
    episode = uuid.uuid5(uuid.NAMESPACE_URL, ticket)
    event = EscalationEvent(
        id=escalation_event_id(episode, kind, level),
        type=kind,
        escalation_id=episode,
        ticket_id=ticket,
        account=account,
        policy="voipster@1",
        priority="emergency",
        metric="first_response",
        trigger="sla.breached",
        level=level,
        critical=True,
        at=NOW,
    )
    return Record(ESCALATIONS.name, ticket.encode(), event.model_dump_json().encode(), [])


async def test_the_consumer_projects_the_three_topics_and_refuses_what_does_not_decode(
    pool: asyncpg.Pool,
) -> None:
    model = PostgresReadModel(pool)
    consumer = consumer_of(model)
    due = NOW + timedelta(minutes=30)
    assert await consumer.handle(opened_record("t-1", "acme", "TF-7")) == "applied"
    started = sla_record("sla.clock_started", "t-1", "acme", NOW - timedelta(minutes=5), due)
    assert await consumer.handle(started) == "applied"
    assert await consumer.handle(started) == "duplicate"
    assert await consumer.handle(escalation_record("escalation.raised", "t-1", "acme", 2)) == (
        "applied"
    )
    (row,) = await model.at_risk(AtRiskQuery(None))
    assert (row.number, row.due_at, row.escalation_level) == ("TF-7", due, 2)
    for bad in (
        Record(TICKET_EVENTS.name, b"k", b"{not json", [("ce_type", b"ticket.opened")]),
        Record(SLA_EVENTS.name, b"k", b'{"type": "sla.nothing"}', []),
        Record(ESCALATIONS.name, b"k", b"[]", []),
    ):
        with pytest.raises(BadMessage):
            await consumer.handle(bad)


# --- the web app -----------------------------------------------------------------------------


def settings(environment: str = "test") -> ConsoleSettings:
    return ConsoleSettings.model_validate(
        {
            "DATABASE_URL": "postgresql://unused",
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
            "TICKETFLOW_ENVIRONMENT": environment,
            "TICKETFLOW_ADMIN_TOKEN": ADMIN,
            "secret": SECRET,
            "events_every_s": 0.05,
            "events_stream_s": 0.3,
        }
    )


@dataclass
class Console:
    http: httpx.AsyncClient
    key: str
    """acme's API key."""


async def _console(pool: asyncpg.Pool, environment: str) -> AsyncIterator[Console]:
    key = await account_with_matrix(pool, "acme", "voipster", {})
    await account_with_matrix(pool, "globex", "voipster", {})
    consumer = consumer_of(PostgresReadModel(pool))
    for ticket, account, number, minutes in (
        ("a-1", "acme", "TF-ACME-1", 30),
        ("g-1", "globex", "TF-GLOBEX-1", 10),
        ("a-2", "acme", "TF-ACME-2", 90),
    ):
        await consumer.handle(opened_record(ticket, account, number))
        due = NOW + timedelta(minutes=minutes)
        await consumer.handle(sla_record("sla.clock_started", ticket, account, NOW, due))
    app = create_app()
    app.state.deps = console_deps(settings(environment), pool, lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as http:
        yield Console(http, key)


@pytest.fixture
async def console(pool: asyncpg.Pool) -> AsyncIterator[Console]:
    async for found in _console(pool, "test"):
        yield found


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def signed_in(console: Console, key: str) -> httpx.Response:
    form = await console.http.get("/signin")
    return await console.http.post(
        "/signin", data={"key": key, "csrf": form_token(form.text)}, follow_redirects=False
    )


def set_cookie(response: httpx.Response, name: str) -> str:
    (found,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return found


async def test_signing_in_sets_an_httponly_secure_lax_session_cookie(console: Console) -> None:
    assert (await console.http.get("/", follow_redirects=False)).headers["location"] == "/signin"
    assert (await console.http.get("/at-risk", follow_redirects=False)).status_code == 303

    response = await signed_in(console, console.key)

    assert response.status_code == 303 and response.headers["location"] == "/at-risk"
    cookie = set_cookie(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    assert console.key not in cookie  # the session names the key, never its secret
    assert (await console.http.get("/", follow_redirects=False)).headers["location"] == "/at-risk"


async def test_development_cookies_are_not_secure(pool: asyncpg.Pool) -> None:
    async for console in _console(pool, "development"):
        response = await signed_in(console, console.key)
        cookie = set_cookie(response, SESSION_COOKIE).lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


async def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    await console.http.get("/signin")  # the CSRF cookie, but no token in the form
    refused = await console.http.post("/signin", data={"key": console.key})
    assert refused.status_code == 403
    forged = await console.http.post("/signin", data={"key": console.key, "csrf": "x.y"})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")

    # Another client's token (no matching cookie) is refused too.
    stolen = form_token((await console.http.get("/signin")).text)
    console.http.cookies.delete(CSRF_COOKIE)
    assert (
        await console.http.post("/signin", data={"key": console.key, "csrf": stolen})
    ).status_code == 403

    assert (await signed_in(console, "tf_nope_wrong")).status_code == 401
    assert (await signed_in(console, console.key)).status_code == 303
    assert (await console.http.post("/signout", data={})).status_code == 403


async def test_a_tampered_session_or_a_revoked_key_signs_the_viewer_out(
    console: Console, pool: asyncpg.Pool
) -> None:
    response = await signed_in(console, console.key)
    cookie = response.cookies[SESSION_COOKIE]
    # The cookie is sealed: the key it carries cannot be read, nor any byte changed.
    assert console.key not in cookie and key_id(console.key) not in cookie
    middle = len(cookie) // 2
    flipped = cookie[:middle] + ("A" if cookie[middle] != "A" else "B") + cookie[middle + 1 :]
    console.http.cookies.set(SESSION_COOKIE, flipped, domain="console.test")
    assert (await console.http.get("/at-risk", follow_redirects=False)).status_code == 303
    console.http.cookies.set(SESSION_COOKIE, cookie, domain="console.test")
    assert (await console.http.get("/at-risk", follow_redirects=False)).status_code == 200

    await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", key_id(console.key))

    assert (await console.http.get("/at-risk", follow_redirects=False)).status_code == 303
    assert (await console.http.get("/v1/at-risk")).status_code == 401


def key_id(secret: str) -> str:
    return secret.split("_")[1]


async def test_the_at_risk_page_shows_only_the_keys_accounts(console: Console) -> None:
    await signed_in(console, console.key)

    page = await console.http.get("/at-risk", params={"tz": "America/New_York"})

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "TF-ACME-1" in html and "TF-ACME-2" in html
    assert "TF-GLOBEX-1" not in html and "globex" not in html
    assert html.index("TF-ACME-1") < html.index("TF-ACME-2")  # the next deadline first
    assert "Fri 20 Nov 07:30 EST" in html  # due 12:30 UTC in the viewer's zone
    assert "30 min 00 s" in html  # the countdown, before the script takes over
    assert 'src="/static/console.js"' in html and "//cdn" not in html
    assert "Projection lag" in html and "300 s" not in html
    assert 'name="csrf"' in html  # the sign-out form
    # The viewer's zone is remembered.
    assert "America/New_York" in (await console.http.get("/at-risk")).text

    filtered = await console.http.get("/at-risk", params={"account": "globex"})
    assert "TF-" not in filtered.text.split("<tbody")[1]
    script = await console.http.get("/static/console.js")
    assert script.status_code == 200 and "EventSource" in script.text


async def test_the_json_list_is_scoped_to_the_key_and_the_admin_sees_every_account(
    console: Console,
) -> None:
    assert (await console.http.get("/v1/at-risk")).status_code == 401

    mine = await console.http.get("/v1/at-risk", headers={"Authorization": f"Bearer {console.key}"})
    assert mine.status_code == 200
    body = mine.json()
    assert [row["number"] for row in body["rows"]] == ["TF-ACME-1", "TF-ACME-2"]
    assert body["rows"][0]["seconds_left"] == 1800
    assert body["lag_seconds"] == 0  # the newest event applied: the clocks started at NOW

    everyone = await console.http.get("/v1/at-risk", headers={"Authorization": f"Bearer {ADMIN}"})
    assert [row["number"] for row in everyone.json()["rows"]] == [
        "TF-GLOBEX-1",
        "TF-ACME-1",
        "TF-ACME-2",
    ]
    await signed_in(console, ADMIN)
    assert "TF-GLOBEX-1" in (await console.http.get("/at-risk")).text
    by_policy = await console.http.get("/v1/at-risk", params={"policy": "hosted-voice@1"})
    assert by_policy.json()["rows"] == []


async def test_events_answer_a_server_sent_event_stream(console: Console) -> None:
    await signed_in(console, console.key)

    response = await console.http.get("/events")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("retry: 3000")
    assert "event: changed" in response.text and "event: status" in response.text
    assert (await console.http.get("/healthz")).json() == {"status": "ok"}
    assert (await console.http.get("/readyz")).status_code == 200


def test_production_refuses_a_placeholder_console_secret() -> None:
    with pytest.raises(ValueError, match="TICKETFLOW_CONSOLE_SECRET"):
        ConsoleSettings(
            DATABASE_URL="postgresql://x",
            KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
            TICKETFLOW_ENVIRONMENT="production",
            TICKETFLOW_ADMIN_TOKEN=ADMIN,
        )


# --- the running service on the real broker ---------------------------------------------------


async def dead_letters(bootstrap: str, topic: str, key: bytes) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"dlq-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000)
        return [dict(m.headers) for ms in batch.values() for m in ms if m.key == key]
    finally:
        await consumer.stop()


async def test_the_service_projects_from_the_topics_dead_letters_and_rebuilds(
    infra: Infrastructure,
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    await ensure_topics(bootstrap, topics_with_dead_letters())
    url = await ensure_database(infra.database_url, f"console_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    await migrate_intake(pool)
    ticket = f"t-{uuid.uuid4().hex[:8]}"
    due = NOW + timedelta(minutes=45)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in (
            Record(TICKET_EVENTS.name, ticket.encode(), b"{not json", [("ce_type", b"x")]),
            opened_record(ticket, "acme", "TF-LIVE-1"),
            sla_record("sla.clock_started", ticket, "acme", NOW, due),
        ):
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
        values = {
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TICKETFLOW_ENVIRONMENT": "test",
            "TICKETFLOW_ADMIN_TOKEN": ADMIN,
            "secret": SECRET,
            "group_id": f"console-{uuid.uuid4().hex[:6]}",
        }
        app = build_app(ConsoleSettings.model_validate(values), lambda: NOW)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://console.test") as http,
        ):
            async with asyncio.timeout(60):
                while not (await http.get("/v1/at-risk", headers=admin)).json()["rows"]:
                    await asyncio.sleep(0.2)
            (row,) = (await http.get("/v1/at-risk", headers=admin)).json()["rows"]
            assert (row["number"], row["metric"]) == ("TF-LIVE-1", "first_response")
        letters = await dead_letters(bootstrap, TICKET_EVENTS.dlq, ticket.encode())
        assert len(letters) == 1

        progress: list[tuple[int, int]] = []
        rebuilt = await rebuild(
            ConsoleSettings.model_validate(values), lambda read, left: progress.append((read, left))
        )
    finally:
        await producer.stop()
    model = PostgresReadModel(pool)
    try:
        (again,) = await model.at_risk(AtRiskQuery(frozenset({"acme"})))
        assert (again.ticket_id, again.number, again.due_at) == (ticket, "TF-LIVE-1", due)
        assert rebuilt.read >= 3 and rebuilt.skipped >= 1
        assert progress[-1] == (rebuilt.read, 0)
    finally:
        await pool.close()


async def test_a_tickets_events_from_different_topics_apply_one_at_a_time(
    pool: asyncpg.Pool,
) -> None:
    """ticket.opened and the first SLA event of a new ticket, handled at the same time (two
    partitions, or two replicas): the row ends up with the number of one and the due time of
    the other."""
    consumer = consumer_of(PostgresReadModel(pool))
    tickets = [f"race-{n}" for n in range(20)]
    due = NOW + timedelta(hours=1)
    await asyncio.gather(
        *(
            handled
            for ticket in tickets
            for handled in (
                consumer.handle(opened_record(ticket, "acme", f"TF-{ticket}")),
                consumer.handle(sla_record("sla.clock_started", ticket, "acme", NOW, due)),
            )
        )
    )
    rows = await PostgresReadModel(pool).at_risk(AtRiskQuery(None))
    assert sorted((row.ticket_id, row.number, row.due_at) for row in rows) == sorted(
        (ticket, f"TF-{ticket}", due) for ticket in tickets
    )
