"""Notify against a real SMTP server (aiosmtpd), a real HTTP receiver and real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson
import pytest

from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import BadMessage
from services.devstack.infrastructure import Infrastructure
from services.notify.adapters import store
from services.notify.adapters.destination_guard import DestinationGuard
from services.notify.adapters.email import EmailSender
from services.notify.adapters.secret_box import SecretBox
from services.notify.adapters.templates import Templates
from services.notify.adapters.webhooks import WebhookSender, WebhookTimeouts
from services.notify.bootstrap import PostgresDeliverer as Deliverer
from services.notify.bootstrap import PostgresNotifyApiDeps as NotifyApiDeps
from services.notify.bootstrap import PostgresPlanner as Planner
from services.notify.domain.destinations import Address, DestinationPolicy
from services.notify.domain.notifications import Notification
from services.notify.domain.retries import Outcome, RetryPolicy
from services.notify.domain.signing import BadSignature, verify
from services.notify.entrypoints.api import create_app
from services.notify.entrypoints.consumer import NotifyConsumer
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.events.escalation import EscalationEvent, escalation_event_id
from shared.events.sla import SlaEvent
from shared.topics import ESCALATIONS, SLA_EVENTS, TICKET_EVENTS
from tests.integration.escalation_support import (
    Clock,
    account_with_matrix,
    breach,
    outbox_records,
    service_database,
)
from tests.integration.receivers import http_receiver, smtp_server

NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
CONTACTS = ["oncall@acme.example", "lead@acme.example"]
BOX = SecretBox([b"dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="])
LOCAL = DestinationGuard(DestinationPolicy(allow_private=True))
"""These tests' receivers listen on loopback: they opt in to private destinations."""


def local_webhooks(total_s: float = 5.0) -> WebhookSender:
    return WebhookSender(BOX, LOCAL, timeouts=WebhookTimeouts(total_s=total_s, read_s=total_s))


async def public_dns(host: str, port: int) -> list[Address]:
    """A resolver for API tests (no DNS needed): every name has one public address."""
    return [ipaddress.ip_address("93.184.215.14")]


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.notify.adapters", 2)
    try:
        yield pool
    finally:
        await pool.close()


class Notify:
    """Planner + deliverer wired to real senders, with a hand-moved clock."""

    def __init__(self, pool: asyncpg.Pool, smtp_port: int, retry: RetryPolicy) -> None:
        self.clock = Clock(NOW)
        self.pool = pool
        self.webhooks = local_webhooks()
        self.consumer = NotifyConsumer(Planner(pool, Templates(), self.clock))
        self.deliverer = Deliverer(
            pool,
            EmailSender("127.0.0.1", smtp_port, "support@provider.example", start_tls=False),
            self.webhooks,
            self.clock,
            retry,
        )

    async def drain(self, attempts: int = 10) -> None:
        """Deliver everything due, moving the clock to each retry."""
        for _ in range(attempts):
            await self.deliverer.run_due(self.clock())
            upcoming = await self.deliverer.next_due()
            if upcoming is None:
                return
            self.clock.now = max(self.clock.now, upcoming)


def raised(ticket: str) -> EscalationEvent:
    escalation_id = uuid.uuid4()
    return EscalationEvent(
        id=escalation_event_id(escalation_id, "escalation.raised", 1),
        type="escalation.raised",
        escalation_id=escalation_id,
        ticket_id=ticket,
        account="acme",
        policy="voximplant@1",
        priority="sev2",
        metric="first_response",
        trigger="sla.breached",
        level=1,
        recipients=CONTACTS,
        critical=False,
        deadline=NOW,
        at=NOW,
    )


def opened(ticket: str) -> Envelope:
    return Envelope(
        type="ticket.opened",
        source="intake",
        subject=ticket,
        time=NOW,
        sequence=1,
        account="acme",
        policy="voximplant@1",
        data={
            "channel": "email",
            "priority": "sev2",
            "contact": "noc@customer.example",
            "ticket_number": "TF-4821-93",
            "subject": "No audio on outbound calls",
        },
    )


@dataclass
class Record:
    """A consumed Kafka record, as the consumer loop hands it over."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def sla_record(event: SlaEvent) -> Record:
    return Record(SLA_EVENTS.name, *event.to_record())


def escalation_record(event: EscalationEvent) -> Record:
    return Record(ESCALATIONS.name, event.ticket_id.encode(), event.model_dump_json().encode(), [])


def ticket_record(envelope: Envelope) -> Record:
    record = to_kafka(envelope)
    return Record(TICKET_EVENTS.name, record.key, record.value, list(record.headers))


async def subscribe(pool: asyncpg.Pool, url: str, events: list[str]) -> str:
    _, secret = await store.create_subscription(pool, "acme", url, events, BOX)
    return secret


async def test_a_breach_sends_one_email_per_contact_and_one_signed_webhook(
    pool: asyncpg.Pool,
) -> None:
    with smtp_server() as (smtp_port, mails), http_receiver() as receiver:
        secret = await subscribe(pool, receiver.url, ["sla.breached"])
        notify = Notify(pool, smtp_port, RetryPolicy())
        ticket = str(uuid.uuid4())
        escalation = raised(ticket)
        for _ in range(2):  # the second round is a redelivery: nothing new is sent
            assert await notify.consumer.handle(sla_record(breach(ticket, NOW))) in (
                "planned",
                "duplicate",
            )
            await notify.consumer.handle(escalation_record(escalation))
            await notify.drain()
        await notify.webhooks.close()
    assert sorted(m["To"] for m in mails) == sorted(CONTACTS)
    assert all("ESCALATION level 1" in m["Subject"] for m in mails)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    signature = request.headers["Ticketflow-Signature"]
    verify(secret, signature, request.body, int(NOW.timestamp()))
    with pytest.raises(BadSignature):
        verify(secret, signature, request.body + b" ", int(NOW.timestamp()))
    with pytest.raises(BadSignature):  # replayed ten minutes later
        verify(secret, signature, request.body, int(NOW.timestamp()) + 600)
    payload = orjson.loads(request.body)
    assert (payload["type"], payload["event"]["metric"]) == ("sla.breached", "first_response")
    assert request.headers["Ticketflow-Delivery"] == payload["id"]
    rows = await pool.fetch("SELECT status, attempts FROM notifications")
    assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 1)] * 3
    outcomes = await outbox_records(pool, "notify")
    assert [o["type"] for o in outcomes] == ["notification.delivered"] * 3


async def test_a_receiver_failing_twice_gets_exactly_one_delivery(pool: asyncpg.Pool) -> None:
    with smtp_server() as (smtp_port, _), http_receiver([500, 503]) as receiver:
        await subscribe(pool, receiver.url, ["sla.*"])
        notify = Notify(pool, smtp_port, RetryPolicy(max_attempts=5))
        await notify.consumer.handle(sla_record(breach(str(uuid.uuid4()), NOW)))
        await notify.drain()
        await notify.webhooks.close()
    assert [r.status for r in receiver.requests] == [500, 503, 200]
    assert len(receiver.accepted) == 1
    deliveries = {r.headers["Ticketflow-Delivery"] for r in receiver.requests}
    assert len(deliveries) == 1, "every retry carries the same delivery id"
    row = await pool.fetchrow("SELECT status, attempts, delivered_at FROM notifications")
    assert row is not None and (row["status"], row["attempts"]) == ("delivered", 3)
    # Backoff: 5 s after the first failure, 10 s after the second.
    assert row["delivered_at"] == NOW + timedelta(seconds=15)
    outcomes = [o["type"] for o in await outbox_records(pool, "notify")]
    assert outcomes == ["notification.failed", "notification.failed", "notification.delivered"]


async def test_a_permanent_failure_is_dead_lettered_and_can_be_redelivered(
    pool: asyncpg.Pool,
) -> None:
    with smtp_server() as (smtp_port, _), http_receiver([500, 500, 500, 410]) as receiver:
        await subscribe(pool, receiver.url, ["*"])
        notify = Notify(pool, smtp_port, RetryPolicy(max_attempts=3))
        await notify.consumer.handle(sla_record(breach(str(uuid.uuid4()), NOW)))
        await notify.drain()
        dead = await store.listing(pool, ["acme"], None, "dead", 10)
        assert [(r["attempts"], r["last_error"]) for r in dead] == [(3, "HTTP 500")]
        assert await store.redeliver(pool, None, notify.clock()) == 1
        await notify.drain()  # a 410 Gone is permanent: dead after one more attempt
        again = await store.listing(pool, ["acme"], None, "dead", 10)
        assert [(r["attempts"], r["last_error"]) for r in again] == [(1, "HTTP 410")]
        receiver.script = []
        await store.redeliver(pool, [again[0]["id"]], notify.clock())
        await notify.drain()
        await notify.webhooks.close()
    assert [r.status for r in receiver.requests] == [500, 500, 500, 410, 200]
    assert await store.listing(pool, ["acme"], None, "dead", 10) == []


async def test_the_contact_gets_the_opening_confirmation_with_the_accounts_template(
    pool: asyncpg.Pool,
) -> None:
    key = await account_with_matrix(pool, "acme", "voximplant", {})
    await account_with_matrix(pool, "other", "voximplant", {})
    await store.put_template(
        pool, "acme", "ticket_opened", "Ticket {{ ticket.number }} logged", "Hi {{ account }}"
    )
    ticket = str(uuid.uuid4())
    with smtp_server() as (smtp_port, mails):
        notify = Notify(pool, smtp_port, RetryPolicy())
        assert await notify.consumer.handle(ticket_record(opened(ticket))) == "planned"
        await notify.drain()
        await notify.webhooks.close()
    assert [(m["To"], m["Subject"]) for m in mails] == [
        ("noc@customer.example", "Ticket TF-4821-93 logged")
    ]
    assert mails[0].get_payload().strip() == "Hi acme"
    app = create_app()

    async def ready() -> dict[str, bool]:
        return {"database": True}

    app.state.deps = NotifyApiDeps(
        pool,
        ApiKeyVerifier(pool),
        Templates(),
        "admin-token",
        notify.clock,
        ready,
        lambda: None,
        guard=DestinationGuard(resolver=public_dns),
        secrets=BOX,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notify"
    ) as http:
        listed = await http.get(
            "/v1/notifications", params={"ticket": ticket}, headers={"X-Api-Key": key}
        )
        assert [(n["template"], n["status"]) for n in listed.json()] == [
            ("ticket_opened", "delivered")
        ]
        bad = await http.put(
            "/v1/admin/templates/acme/ticket_opened",
            json={"subject": "{{ broken", "body": "x"},
            headers={"Authorization": "Bearer admin-token"},
        )
        assert bad.status_code == 422 and "subject, line 1" in bad.json()["detail"]
        admin = {"Authorization": "Bearer admin-token"}
        created = await http.post(
            "/v1/admin/webhooks",
            json={"account": "acme", "url": "https://hooks.example.com/x", "events": ["*"]},
            headers=admin,
        )
        assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
        listed_hooks = (await http.get("/v1/admin/webhooks", headers=admin)).json()
        assert "secret" not in listed_hooks[0]
        hook = created.json()["id"]
        assert (await http.delete(f"/v1/admin/webhooks/{hook}", headers=admin)).status_code == 204
        assert (await http.delete(f"/v1/admin/webhooks/{hook}", headers=admin)).status_code == 404
        assert await notify.consumer.handle(sla_record(breach(ticket, NOW))) == "nothing_to_send"
        assert (await http.get("/v1/notifications")).status_code == 401
        metrics = (await http.get("/metrics")).text
        assert 'ticketflow_notifications{status="pending"} 0.0' in metrics
        assert 'ticketflow_outbox_pending{service="notify"} 1.0' in metrics


async def test_an_undecodable_record_is_a_bad_message(pool: asyncpg.Pool) -> None:
    notify = Notify(pool, 25, RetryPolicy())
    with pytest.raises(BadMessage):
        await notify.consumer.handle(Record(ESCALATIONS.name, b"k", b"{not json", []))
    await notify.webhooks.close()


async def test_deliveries_queued_for_a_disabled_subscription_go_dead(pool: asyncpg.Pool) -> None:
    with smtp_server() as (smtp_port, _), http_receiver() as receiver:
        await subscribe(pool, receiver.url, ["sla.breached"])
        notify = Notify(pool, smtp_port, RetryPolicy())
        assert await notify.consumer.handle(sla_record(breach(str(uuid.uuid4()), NOW))) == "planned"
        (subscription,) = await store.list_subscriptions(pool, "acme")
        assert await store.disable_subscription(pool, subscription["id"])
        await notify.drain()
        await notify.webhooks.close()
    assert receiver.requests == []
    dead = await store.listing(pool, ["acme"], None, "dead", 10)
    assert [(r["attempts"], r["last_error"]) for r in dead] == [
        (1, "webhook subscription disabled")
    ]


class HalfHungEmail:
    """Delivers the first message at once; every later one hangs (in flight at a crash)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, notification: Notification) -> Outcome:
        if self.sent:
            await asyncio.Event().wait()
        self.sent.append(notification.recipient)
        return Outcome(True)


async def test_a_crash_mid_batch_leaves_only_the_sends_in_flight_unrecorded(
    pool: asyncpg.Pool,
) -> None:
    """Issue 14 chaos finding: a kill while a batch was being sent re-sent the whole batch
    after the lease (the outcomes were recorded only once every send was done)."""
    clock = Clock(NOW)
    consumer = NotifyConsumer(Planner(pool, Templates(), clock))
    email = HalfHungEmail()
    webhooks = local_webhooks()
    deliverer = Deliverer(pool, email, webhooks, clock, RetryPolicy())  # type: ignore[arg-type]
    ticket = str(uuid.uuid4())
    await consumer.handle(escalation_record(raised(ticket)))
    sending = asyncio.create_task(deliverer.run_due(clock()))
    try:
        for _ in range(100):
            delivered = await pool.fetchval(
                "SELECT count(*) FROM notifications WHERE status = 'delivered'"
            )
            if delivered:
                break
            await asyncio.sleep(0.05)
    finally:
        sending.cancel()  # the process dies with the second mail in flight
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await deliverer.close(grace_s=0)
        await webhooks.close()
    rows = await pool.fetch("SELECT recipient, status FROM notifications ORDER BY recipient")
    assert sorted(r["status"] for r in rows) == ["delivered", "pending"], rows
    assert [r["recipient"] for r in rows if r["status"] == "delivered"] == email.sent
