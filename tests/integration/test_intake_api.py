"""The intake HTTP API over the real PostgreSQL event store (and the real broker for the relay)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database, ensure_topics
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outbox_relay import OutboxRelay, kafka_sender
from services.intake.domain.ticket_number import is_valid
from services.intake.entrypoints import schemas
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.deps import IntakeDeps
from shared.events.codec import from_kafka
from shared.policy import load_policies
from shared.topics import Topic

ADMIN = {"Authorization": "Bearer test-admin-token"}
NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Tue 10:00 in New York


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    url = await ensure_database(infra.database_url, f"api_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=20)
    assert pool is not None
    await migrate(pool)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async def ready() -> dict[str, bool]:
        return {"database": True, "broker": True}

    deps = IntakeDeps(
        store=EventStore(pool),
        accounts=AccountStore(pool),
        idempotency=IdempotencyStore(pool),
        policies=load_policies(),
        now=lambda: NOW,
        random_digits=lambda n: str(uuid.uuid4().int)[:n],
        new_ticket_id=uuid.uuid4,
        admin_token="test-admin-token",
        readiness=ready,
    )
    app = create_app(deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield http


async def account_with_key(
    http: httpx.AsyncClient, account: str, policy: str = "voipster", **extra: object
) -> dict[str, str]:
    created = await http.post(
        "/v1/admin/accounts",
        headers=ADMIN,
        json={"id": account, "name": account.title(), "policy": policy, **extra},
    )
    assert created.status_code == 201, created.text
    contact = await http.post(
        f"/v1/admin/accounts/{account}/contacts",
        headers=ADMIN,
        json={"email": f"noc@{account}.example"},
    )
    assert contact.status_code == 201
    key = await http.post("/v1/admin/api-keys", headers=ADMIN, json={"accounts": [account]})
    assert key.status_code == 201
    return {"Authorization": f"Bearer {key.json()['key']}"}


def ticket_body(account: str, **overrides: object) -> dict[str, object]:
    return {
        "account": account,
        "contact": f"NOC@{account}.example",
        "channel": "web",
        "priority": "normal",
        "subject": "No dial tone on trunk 3",
        **overrides,
    }


async def test_open_read_and_append(client: httpx.AsyncClient) -> None:
    auth = await account_with_key(client, "acme")
    opened = await client.post("/v1/tickets", headers=auth, json=ticket_body("acme"))
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert is_valid(body["number"])
    assert (body["version"], body["policy"], body["status"]) == (1, "voipster@1", "open")

    ticket = await client.get(f"/v1/tickets/{body['ticket_id']}", headers=auth)
    assert ticket.headers["etag"] == '"1"'
    responded = await client.post(
        f"/v1/tickets/{body['ticket_id']}/events",
        headers={**auth, "If-Match": '"1"'},
        json={"type": "ticket.responded", "data": {"by": "noc-1"}},
    )
    assert responded.status_code == 201, responded.text
    assert responded.json()["version"] == 2

    history = (await client.get(f"/v1/tickets/{body['ticket_id']}/events", headers=auth)).json()
    assert [e["type"] for e in history] == ["ticket.opened", "ticket.responded"]
    assert history[0]["data"]["contact"] == "noc@acme.example"
    assert history[0]["specversion"] == "1.0"
    page = (await client.get("/v1/tickets?status=open", headers=auth)).json()
    assert [t["number"] for t in page["items"]] == [body["number"]]


async def test_another_accounts_ticket_is_a_404(client: httpx.AsyncClient) -> None:
    mine = await account_with_key(client, "alpha")
    theirs = await account_with_key(client, "beta")
    ticket = (await client.post("/v1/tickets", headers=theirs, json=ticket_body("beta"))).json()
    for response in (
        await client.get(f"/v1/tickets/{ticket['ticket_id']}", headers=mine),
        await client.get(f"/v1/tickets/{ticket['ticket_id']}/events", headers=mine),
        await client.post(
            f"/v1/tickets/{ticket['ticket_id']}/events",
            headers=mine,
            json={"type": "ticket.comment_added", "data": {"body": "hi"}},
        ),
        await client.post("/v1/tickets", headers=mine, json=ticket_body("beta")),
        await client.get("/v1/tickets?account=beta", headers=mine),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_policy_refusals_are_422_with_what_to_do(client: httpx.AsyncClient) -> None:
    auth = await account_with_key(client, "gamma")
    stranger = await client.post(
        "/v1/tickets", headers=auth, json=ticket_body("gamma", contact="someone@else.example")
    )
    assert stranger.status_code == 422
    assert "approved contacts" in stranger.json()["detail"]
    emergency = await client.post(
        "/v1/tickets",
        headers=auth,
        json=ticket_body("gamma", channel="email", priority="emergency"),
    )
    assert emergency.status_code == 422
    assert "web portal" in emergency.json()["detail"]
    future = await client.post(
        "/v1/tickets",
        headers=auth,
        json=ticket_body("gamma", occurred_at=(NOW + timedelta(hours=1)).isoformat()),
    )
    assert future.status_code == 422
    assert future.json()["field"] == "occurred_at"


async def test_stale_if_match_is_409_with_current_version(client: httpx.AsyncClient) -> None:
    auth = await account_with_key(client, "delta")
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("delta"))).json()
    url = f"/v1/tickets/{ticket['ticket_id']}/events"
    event = {"type": "ticket.comment_added", "data": {"body": "x"}}
    results = await asyncio.gather(
        *(client.post(url, headers={**auth, "If-Match": "1"}, json=event) for _ in range(8))
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 7
    conflict = next(r for r in results if r.status_code == 409)
    assert conflict.json()["current_version"] == 2
    # The ETag names the version to retry with, as GET /v1/tickets/{id} does.
    assert conflict.headers["ETag"] == '"2"'


async def test_nonsense_transition_is_422(client: httpx.AsyncClient) -> None:
    auth = await account_with_key(client, "eps")
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("eps"))).json()
    reopened = await client.post(
        f"/v1/tickets/{ticket['ticket_id']}/events",
        headers=auth,
        json={"type": "ticket.reopened", "data": {}},
    )
    assert reopened.status_code == 422
    assert "does not apply to a ticket that is open" in reopened.json()["detail"]
    system = await client.post(
        f"/v1/tickets/{ticket['ticket_id']}/events",
        headers=auth,
        json={"type": "ticket.closed_by_timeout", "data": {}},
    )
    assert system.status_code == 422


async def test_idempotent_retry_writes_once(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    auth = await account_with_key(client, "zeta")
    headers = {**auth, "Idempotency-Key": "retry-1"}
    first = await client.post("/v1/tickets", headers=headers, json=ticket_body("zeta"))
    again = await client.post("/v1/tickets", headers=headers, json=ticket_body("zeta"))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE account_id = 'zeta'") == 1
    other = await client.post(
        "/v1/tickets", headers=headers, json=ticket_body("zeta", subject="different")
    )
    assert other.status_code == 422


async def test_errors_are_problem_json(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/tickets")).status_code == 401
    bad_key = await client.get("/v1/tickets", headers={"Authorization": "Bearer tf_x_y"})
    assert bad_key.status_code == 401
    assert bad_key.headers["content-type"] == "application/problem+json"
    auth = await account_with_key(client, "eta")
    invalid = await client.post("/v1/tickets", headers=auth, json={"account": "eta"})
    assert invalid.status_code == 422
    fields = {e["field"] for e in invalid.json()["errors"]}
    assert {"contact", "channel", "priority", "subject"} <= fields
    not_admin = await client.post(
        "/v1/admin/accounts", headers=auth, json={"id": "x1", "name": "x", "policy": "voipster"}
    )
    assert not_admin.status_code == 401


async def test_posted_event_reaches_the_topic_with_key_and_headers(
    client: httpx.AsyncClient, pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    topic = Topic(f"test.api.{uuid.uuid4().hex[:8]}", 3)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    auth = await account_with_key(client, "theta")
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("theta"))).json()
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        assert await OutboxRelay(pool, kafka_sender(producer), topic.name).drain_once() >= 1
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id="t",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            messages = []
            while not messages:
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    messages.extend(batch)
    finally:
        await consumer.stop()
    message = messages[0]
    assert message.key == ticket["ticket_id"].encode()
    headers = dict(message.headers)
    assert headers["ce_type"] == b"ticket.opened"
    assert headers["ce_account"] == b"theta"
    envelope = from_kafka(message.key, message.value, message.headers)
    assert envelope.data["ticket_number"] == ticket["number"]


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    auth = await account_with_key(client, "iota")
    opened = (await client.post("/v1/tickets", headers=auth, json=ticket_body("iota"))).json()
    comment = {"type": "ticket.comment_added", "data": {"body": "seen"}}
    await client.post(f"/v1/tickets/{opened['ticket_id']}/events", headers=auth, json=comment)
    text = (await client.get("/metrics")).text
    gauge = "ticketflow_intake_append_statements "
    statements = next(line for line in text.splitlines() if line.startswith(gauge))
    assert float(statements.split()[1]) >= 1
    assert (
        'ticketflow_intake_requests_total{method="POST",route="/v1/tickets",status="201"} 1.0'
        in text
    )
    assert 'ticketflow_intake_events_total{type="ticket.opened"} 1.0' in text
    assert "ticketflow_intake_request_seconds_bucket" in text


async def test_inbound_email_opens_and_replies(client: httpx.AsyncClient) -> None:
    auth = await account_with_key(client, "kappa", policy="hosted-voice")
    subject = "Kappa Inc – 1 Loop Rd – No dial tone on all lines – Priority 1"
    opened = await client.post(
        "/v1/inbound/email",
        headers=auth,
        json={"from": "NOC@kappa.example", "subject": subject, "body": "since 09:12"},
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["action"] == "opened"
    ticket_id = opened.json()["ticket_id"]
    ticket = (await client.get(f"/v1/tickets/{ticket_id}", headers=auth)).json()
    assert (ticket["priority"], ticket["number"]) == ("p1", opened.json()["number"])
    history = (await client.get(f"/v1/tickets/{ticket_id}/events", headers=auth)).json()
    assert history[0]["data"]["channel"] == "email"
    assert history[0]["data"]["subject"] == "No dial tone on all lines"

    reply = await client.post(
        "/v1/inbound/email",
        headers=auth,
        json={
            "from": "noc@kappa.example",
            "subject": f"RE: [{ticket['number']}] {subject}",
            "body": "still down",
        },
    )
    assert reply.status_code == 201, reply.text
    assert (reply.json()["action"], reply.json()["version"]) == ("replied", 2)

    stranger = await client.post(
        "/v1/inbound/email", headers=auth, json={"from": "mallory@evil.example", "subject": subject}
    )
    assert stranger.status_code == 422
    assert "not an approved contact" in stranger.json()["detail"]
    spoofed_reply = await client.post(
        "/v1/inbound/email",
        headers=auth,
        json={"from": "mallory@evil.example", "subject": f"RE: {ticket['number']}"},
    )
    assert spoofed_reply.status_code == 422


async def test_nul_characters_are_a_clear_422(client: httpx.AsyncClient) -> None:
    auth = await account_with_key(client, "lambda")
    bad = await client.post(
        "/v1/tickets", headers=auth, json=ticket_body("lambda", subject="trunk\x00down")
    )
    assert bad.status_code == 422
    assert "NUL" in bad.text
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("lambda"))).json()
    nested = await client.post(
        f"/v1/tickets/{ticket['ticket_id']}/events",
        headers=auth,
        json={"type": "ticket.comment_added", "data": {"body": "a\x00"}},
    )
    assert nested.status_code == 422


# --- bad input is a 4xx naming what is wrong, never a 500 -------------------------------------


@pytest.mark.parametrize(
    "value", [b"\xb2", b'"1\xb9"', b"2147483648", b"99999999999999999999", b"-1", b"1.0", b""]
)
async def test_an_if_match_that_is_not_a_version_is_a_400(
    client: httpx.AsyncClient, value: bytes
) -> None:
    """Header bytes reach the app as latin-1: b"\\xb2" is "²", which `isdigit()` accepts."""
    auth = await account_with_key(client, "ifm")
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("ifm"))).json()
    response = await client.post(
        f"/v1/tickets/{ticket['ticket_id']}/events",
        headers={**auth, "If-Match": value},
        json={"type": "ticket.comment_added", "data": {"body": "x"}},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["header"] == "If-Match"


@pytest.mark.parametrize("value", ["k" * 3_000, "k" * 256, "clé-unique", "a b"])
async def test_an_idempotency_key_too_long_or_not_visible_ascii_is_a_400(
    client: httpx.AsyncClient, pool: asyncpg.Pool, value: str
) -> None:
    auth = await account_with_key(client, "idk")
    response = await client.post(
        "/v1/tickets",
        headers={**auth, "Idempotency-Key": value.encode()},
        json=ticket_body("idk"),
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["header"] == "Idempotency-Key"
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE account_id = 'idk'") == 0


async def test_an_idempotency_key_of_255_visible_characters_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    auth = await account_with_key(client, "idl")
    headers = {**auth, "Idempotency-Key": "~" + "k" * 253 + "!"}
    first = await client.post("/v1/tickets", headers=headers, json=ticket_body("idl"))
    again = await client.post("/v1/tickets", headers=headers, json=ticket_body("idl"))
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    "received_at", ["2026-11-17T14:00:00", (NOW - timedelta(days=30)).isoformat()]
)
async def test_a_reply_with_a_naive_or_old_received_at_is_a_422_naming_it(
    client: httpx.AsyncClient, received_at: str
) -> None:
    auth = await account_with_key(client, "rcv", policy="hosted-voice")
    subject = "Rcv Inc – 1 Loop Rd – Lines down – Priority 2"
    opened = await client.post(
        "/v1/inbound/email", headers=auth, json={"from": "noc@rcv.example", "subject": subject}
    )
    assert opened.status_code == 201, opened.text
    reply = await client.post(
        "/v1/inbound/email",
        headers=auth,
        json={
            "from": "noc@rcv.example",
            "subject": f"RE: [{opened.json()['number']}] {subject}",
            "received_at": received_at,
        },
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == "received_at"
    assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("hours", ["Infinity", "-Infinity", "NaN", "-5", "0", "1e308", "8761"])
async def test_target_overrides_must_be_finite_positive_and_bounded_hours(
    client: httpx.AsyncClient, pool: asyncpg.Pool, hours: str
) -> None:
    response = await client.post(
        "/v1/admin/accounts",
        headers={**ADMIN, "Content-Type": "application/json"},
        content='{"id": "ovr", "name": "Ovr", "policy": "voximplant", '
        f'"target_overrides": {{"resolution": {hours}}}}}',
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "target_overrides" in response.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM accounts WHERE id = 'ovr'") == 0


async def test_target_overrides_must_name_a_metric(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/admin/accounts",
        headers=ADMIN,
        json={"id": "ovm", "name": "O", "policy": "voximplant", "target_overrides": {"x": 4}},
    )
    assert response.status_code == 422, response.text
    assert "target_overrides" in response.json()["detail"]


async def test_a_valid_target_override_still_opens_tickets_with_that_target(
    client: httpx.AsyncClient,
) -> None:
    auth = await account_with_key(
        client,
        "ovk",
        policy="voximplant",
        plan="gold",
        target_overrides={"resolution": 8760},
        entitled_from="2026-01-01",
    )
    opened = await client.post(
        "/v1/tickets", headers=auth, json=ticket_body("ovk", priority="sev1")
    )
    assert opened.status_code == 201, opened.text


@pytest.mark.parametrize("after_hours", ["Infinity", "1e308", "NaN"])
async def test_escalation_hours_must_be_finite_and_bounded(
    client: httpx.AsyncClient, after_hours: str
) -> None:
    response = await client.post(
        "/v1/admin/accounts",
        headers={**ADMIN, "Content-Type": "application/json"},
        content='{"id": "esh", "name": "E", "policy": "voipster", "escalation": {"levels": '
        f'[{{"level": 1, "after_hours": 0}}, {{"level": 2, "after_hours": {after_hours}}}]}}}}',
    )
    assert response.status_code == 422, response.text
    assert "escalation" in response.json()["detail"]


async def test_a_non_finite_number_anywhere_in_event_data_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    auth = await account_with_key(client, "nfn")
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("nfn"))).json()
    response = await client.post(
        f"/v1/tickets/{ticket['ticket_id']}/events",
        headers={**auth, "Content-Type": "application/json"},
        content='{"type": "ticket.comment_added", "data": {"body": "x", "extra": [NaN]}}',
    )
    assert response.status_code == 422, response.text
    assert "data.extra[0]" in response.text


async def post_event(
    http: httpx.AsyncClient, auth: dict[str, str], ticket_id: str, event_type: str, **data: object
) -> httpx.Response:
    return await http.post(
        f"/v1/tickets/{ticket_id}/events", headers=auth, json={"type": event_type, "data": data}
    )


async def test_a_severity_change_names_one_of_the_pinned_policys_priorities(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    auth = await account_with_key(client, "sevp")
    ticket = (await client.post("/v1/tickets", headers=auth, json=ticket_body("sevp"))).json()
    changed = await post_event(
        client, auth, ticket["ticket_id"], "ticket.severity_changed", priority="urgent!!"
    )
    assert changed.status_code == 422, changed.text
    problem = changed.json()
    assert problem["field"] == "data.priority"
    assert "unknown priority 'urgent!!' for voipster" in problem["detail"]
    assert "emergency, high, normal, low" in problem["detail"]
    # nothing was written: the ticket keeps its priority and version, no event is stored
    view = (await client.get(f"/v1/tickets/{ticket['ticket_id']}", headers=auth)).json()
    assert (view["priority"], view["version"]) == ("normal", 1)
    assert await pool.fetchval("SELECT count(*) FROM events") == 1
    raised = await post_event(
        client, auth, ticket["ticket_id"], "ticket.severity_changed", priority="high"
    )
    assert raised.status_code == 201, raised.text
    view = (await client.get(f"/v1/tickets/{ticket['ticket_id']}", headers=auth)).json()
    assert view["priority"] == "high"


async def test_a_severity_change_keeps_the_policys_channel_rule(client: httpx.AsyncClient) -> None:
    """VoIPster: "Emergency Tickets MUST be opened using the Support Center web portal." A
    ticket mailed in cannot become an emergency by a later severity change; one opened on the
    portal can."""
    auth = await account_with_key(client, "sevc")
    mailed = (
        await client.post("/v1/tickets", headers=auth, json=ticket_body("sevc", channel="email"))
    ).json()
    refused = await post_event(
        client, auth, mailed["ticket_id"], "ticket.severity_changed", priority="emergency"
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "data.priority"
    assert "opened by email" in refused.json()["detail"]
    assert "web portal" in refused.json()["detail"]
    portal = (await client.post("/v1/tickets", headers=auth, json=ticket_body("sevc"))).json()
    accepted = await post_event(
        client, auth, portal["ticket_id"], "ticket.severity_changed", priority="emergency"
    )
    assert accepted.status_code == 201, accepted.text


async def test_a_ticket_shows_how_it_was_solved_and_why_it_was_closed(
    client: httpx.AsyncClient,
) -> None:
    auth = await account_with_key(client, "outc")

    async def view(ticket_id: str) -> tuple[str, str | None, str | None]:
        body = (await client.get(f"/v1/tickets/{ticket_id}", headers=auth)).json()
        return body["status"], body["resolution"], body["closed_reason"]

    async def opened() -> str:
        response = await client.post("/v1/tickets", headers=auth, json=ticket_body("outc"))
        return str(response.json()["ticket_id"])

    plain = await opened()
    assert await view(plain) == ("open", None, None)
    assert (await post_event(client, auth, plain, "ticket.closed")).status_code == 201
    assert await view(plain) == ("closed", None, "closed")

    worked = await opened()
    assert (await post_event(client, auth, worked, "ticket.workaround_provided")).status_code == 201
    assert await view(worked) == ("open", "workaround", None)
    assert (await post_event(client, auth, worked, "ticket.closed")).status_code == 201
    assert await view(worked) == ("closed", "workaround", "workaround")

    solved = await opened()
    for event_type in ("ticket.workaround_provided", "ticket.resolved"):
        assert (await post_event(client, auth, solved, event_type)).status_code == 201
    assert await view(solved) == ("resolved", "resolution", None)
    assert (await post_event(client, auth, solved, "ticket.closed")).status_code == 201
    assert await view(solved) == ("closed", "resolution", "resolution")
    # a reopening forgets both; the list shows the same fields
    assert (await post_event(client, auth, solved, "ticket.reopened")).status_code == 201
    assert await view(solved) == ("open", None, None)
    page = (await client.get("/v1/tickets?status=closed", headers=auth)).json()
    assert sorted(t["closed_reason"] for t in page["items"]) == ["closed", "workaround"]


async def test_a_ticket_closed_by_the_timeout_says_so(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Voximplant 3.4.4: without an answer to the closure request within 48 hours "the Ticket
    is considered successfully closed": the SLA service's command closes it, and the ticket
    says it was the timeout, not an agent."""
    auth = await account_with_key(client, "outt")
    ticket_id = (await client.post("/v1/tickets", headers=auth, json=ticket_body("outt"))).json()[
        "ticket_id"
    ]
    for event_type in ("ticket.resolved", "ticket.closure_requested"):
        assert (await post_event(client, auth, ticket_id, event_type)).status_code == 201
    store = EventStore(pool)
    outcome, _detail = await store.apply_command(
        uuid.uuid4(),
        "close_by_timeout",
        uuid.UUID(ticket_id),
        3,
        lambda ticket: ticket.next_event(
            "ticket.closed_by_timeout", NOW, {"based_on_version": 3}, source="sla"
        ),
    )
    assert outcome == "applied"
    body = (await client.get(f"/v1/tickets/{ticket_id}", headers=auth)).json()
    assert (body["status"], body["resolution"], body["closed_reason"]) == (
        "closed",
        "resolution",
        "timeout",
    )


async def test_a_target_override_the_policy_cannot_use_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """voice1 has no first-response clock, and voipster's first response is its own 2 hours:
    neither would ever use the override, so neither account is created."""
    for account, policy, metric, says in (
        ("ovv", "voice1", "first_response", "voice1 has no first_response clock"),
        ("ovp", "voipster", "first_response", "voipster sets first_response from its own"),
    ):
        response = await client.post(
            "/v1/admin/accounts",
            headers=ADMIN,
            json={"id": account, "name": "O", "policy": policy, "target_overrides": {metric: 1}},
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["title"] == "Unusable target override"
        assert problem["field"] == f"target_overrides.{metric}"
        assert says in problem["detail"]
        assert "takes no target from the account's order" in problem["detail"]
    mixed = await client.post(
        "/v1/admin/accounts",
        headers=ADMIN,
        json={
            "id": "ovx",
            "name": "O",
            "policy": "voximplant",
            "target_overrides": {"resolution": 8, "first_response": 1},
        },
    )
    assert mixed.status_code == 422, mixed.text
    assert "only resolution can come from the account's order" in mixed.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM accounts") == 0


async def test_migration_fills_in_outcomes_of_tickets_from_before_it(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Tickets written before migration 005 get their channel, resolution and closed reason
    from their events, once."""
    auth = await account_with_key(client, "migr")
    ids = []
    for events in (
        ("ticket.workaround_provided", "ticket.closed"),
        ("ticket.resolved", "ticket.closed", "ticket.reopened", "ticket.workaround_provided"),
        ("ticket.responded",),
    ):
        body = ticket_body("migr", channel="email")
        ticket_id = (await client.post("/v1/tickets", headers=auth, json=body)).json()["ticket_id"]
        for event_type in events:
            assert (await post_event(client, auth, ticket_id, event_type)).status_code == 201
        ids.append(uuid.UUID(ticket_id))
    outcome = "SELECT channel, resolution, closed_reason FROM tickets WHERE ticket_id = $1"
    before = [tuple(await pool.fetchrow(outcome, ticket_id)) for ticket_id in ids]
    await pool.execute(
        "ALTER TABLE tickets DROP COLUMN channel, DROP COLUMN resolution, DROP COLUMN closed_reason"
    )
    await migrate(pool)
    after = [tuple(await pool.fetchrow(outcome, ticket_id)) for ticket_id in ids]
    assert (
        after
        == before
        == [
            ("email", "workaround", "workaround"),
            ("email", "workaround", None),
            ("email", None, None),
        ]
    )


async def test_event_bodies_are_typed_by_their_type(client: httpx.AsyncClient) -> None:
    """The body is a union told apart by `type`: an unknown or system-only type, a missing
    required field and a field the type does not have are 422s naming the field as sent."""
    auth = await account_with_key(client, "typd")
    ticket_id = (await client.post("/v1/tickets", headers=auth, json=ticket_body("typd"))).json()[
        "ticket_id"
    ]
    url = f"/v1/tickets/{ticket_id}/events"
    cases = [
        ({"type": "ticket.teleported"}, "type", "ticket.assigned"),
        ({"type": "ticket.closed_by_timeout", "data": {}}, "type", "ticket.comment_added"),
        ({"data": {}}, "type", "discriminator"),
        ({"type": "ticket.assigned", "data": {}}, "data.assignee", "required"),
        ({"type": "ticket.comment_added", "data": {"body": "x", "colour": 1}}, "data.colour", ""),
        ({"type": "ticket.escalation_requested", "data": {"reason": "bored"}}, "data.reason", ""),
    ]
    for body, field, says in cases:
        response = await client.post(url, headers=auth, json=body)
        assert response.status_code == 422, (body, response.text)
        [error] = response.json()["errors"]
        assert error["field"] == field, (body, error)
        assert says in error["message"], (body, error)
    comment = await client.post(
        url, headers=auth, json={"type": "ticket.comment_added", "data": {"body": "hi"}}
    )
    assert comment.status_code == 201, comment.text
    history = (await client.get(url, headers=auth)).json()
    assert history[-1]["data"] == {"body": "hi", "public": True}
    assert (await client.get(f"/v1/tickets/{ticket_id}", headers=auth)).json()["version"] == 2


async def test_the_openapi_document_lists_every_event_type_with_an_example(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/tickets/{ticket_id}/events"]["post"]
    assert operation["security"] == [{"ApiKeyBearer": []}, {"ApiKeyHeader": []}]
    content = operation["requestBody"]["content"]["application/json"]
    schema = content["schema"]
    mapping = schema["discriminator"]["mapping"]
    assert schema["discriminator"]["propertyName"] == "type"
    assert sorted(mapping) == sorted(content["examples"]) == sorted(schemas.API_EVENT_TYPES)
    assert "ticket.closed_by_timeout" not in mapping and "ticket.opened" not in mapping
    components = document["components"]["schemas"]
    for event_type, ref in mapping.items():
        variant = components[ref.rsplit("/", 1)[1]]
        assert variant["properties"]["type"]["const"] == event_type
        [example] = variant["examples"]
        assert example["type"] == event_type
        schemas.APPEND_BODIES[event_type].model_validate(example)  # each example is valid
        data_ref = variant["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        assert set(example["data"]) <= set(components[data_ref]["properties"])


async def test_a_clients_traceparent_rides_on_with_tracing_off(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """No exporter configured: no span is recorded, but the client's trace context is what
    the stored events (and so their records' ce_traceparent) carry; a malformed one is
    ignored."""
    auth = await account_with_key(client, "iota")
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    opened = await client.post(
        "/v1/tickets", headers={**auth, "traceparent": traceparent}, json=ticket_body("iota")
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()["ticket_id"]
    appended = await client.post(
        f"/v1/tickets/{ticket}/events",
        headers={**auth, "traceparent": "00-not-a-trace"},
        json={"type": "ticket.responded", "data": {"by": "noc-1"}},
    )
    assert appended.status_code == 201, appended.text

    stored = await pool.fetch(
        "SELECT envelope->>'traceparent' AS tp FROM events WHERE ticket_id = $1 ORDER BY version",
        uuid.UUID(ticket),
    )
    assert [row["tp"] for row in stored] == [traceparent, None]
