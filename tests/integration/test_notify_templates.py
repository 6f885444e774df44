"""Bad account templates against real PostgreSQL and a real SMTP server: an override stored
behind the API's back (looping, failing at render time, or changing `event`) costs at most its
time budget, the email still goes out with the default template, the webhook of the same event
carries the event as published, and other accounts' mail is not held up. Through the HTTP API,
each bad template is refused with a problem naming what is wrong."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson
import pytest
from cryptography.fernet import Fernet
from prometheus_client import REGISTRY

from services.common.api_keys import ApiKeyVerifier
from services.devstack.infrastructure import Infrastructure
from services.notify.adapters import store
from services.notify.adapters.destination_guard import DestinationGuard
from services.notify.adapters.email import EmailSender
from services.notify.adapters.secret_box import SecretBox
from services.notify.adapters.templates import Templates
from services.notify.bootstrap import PostgresDeliverer as Deliverer
from services.notify.bootstrap import PostgresNotifyApiDeps as NotifyApiDeps
from services.notify.bootstrap import PostgresPlanner as Planner
from services.notify.domain.notifications import Notification
from services.notify.domain.retries import Outcome, RetryPolicy
from services.notify.entrypoints.api import create_app
from services.notify.entrypoints.consumer import NotifyConsumer
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.topics import TICKET_EVENTS
from tests.integration.escalation_support import Clock, service_database
from tests.integration.receivers import smtp_server
from tests.integration.test_notify import Record

NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
RUNAWAY = "{% for a in range(20000) %}{% for b in range(20000) %}{% endfor %}{% endfor %}"
FLOOD = "{% for a in range(20000) %}{% for b in range(20000) %}x{% endfor %}{% endfor %}"
TYPO = "Hello {{ tikcet.number.upper() }}"
FORGE = '{% set _ = event.update({"subject": "FORGED BY TEMPLATE"}) %}Forged'
BAD_TEMPLATES = {
    "runaway": (RUNAWAY, "time_budget"),
    "flood": (FLOOD, "output_cap"),
    "typo": (TYPO, "undefined"),
    "forge": (FORGE, "security"),
}


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.notify.adapters", 2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def templates() -> AsyncIterator[Templates]:
    templates = Templates()
    try:
        yield templates
    finally:
        await templates.aclose()


class RecordingWebhooks:
    """Takes the deliverer's webhook sends (the body is what a receiver would get)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def send(self, notification: Notification) -> Outcome:
        self.bodies.append(notification.body)
        return Outcome(True)


def opened(ticket: str, account: str, number: str) -> Envelope:
    return Envelope(
        type="ticket.opened",
        source="intake",
        subject=ticket,
        time=NOW,
        sequence=1,
        account=account,
        policy="voximplant@1",
        data={
            "channel": "email",
            "priority": "sev2",
            "contact": f"noc@{account}.example",
            "ticket_number": number,
            "subject": "No audio on outbound calls",
        },
    )


def ticket_record(envelope: Envelope) -> Record:
    record = to_kafka(envelope)
    return Record(TICKET_EVENTS.name, record.key, record.value, list(record.headers))


def failures(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "ticketflow_notify_template_failures_total",
        {"template": "ticket_opened", "reason": reason},
    )
    return value or 0.0


@pytest.mark.parametrize("kind", sorted(BAD_TEMPLATES))
async def test_a_bad_stored_template_falls_back_and_holds_nobody_up(
    pool: asyncpg.Pool, templates: Templates, kind: str
) -> None:
    source, reason = BAD_TEMPLATES[kind]
    await store.put_template(pool, "acme", "ticket_opened", "{{ ticket.number }} " + source, source)
    await store.create_subscription(
        pool,
        "acme",
        "https://hooks.example.com/x",
        ["ticket.*"],
        SecretBox([Fernet.generate_key()]),
    )
    await templates.validate("ticket_opened", "warm", "up")  # workers start lazily
    clock = Clock(NOW)
    consumer = NotifyConsumer(Planner(pool, templates, clock))
    acme, other = (
        opened(str(uuid.uuid4()), "acme", "TF-1"),
        opened(str(uuid.uuid4()), "other", "TF-2"),
    )
    before = failures(reason)
    with smtp_server() as (smtp_port, mails):
        started = time.monotonic()
        assert await consumer.handle(ticket_record(acme)) == "planned"
        assert await consumer.handle(ticket_record(other)) == "planned"
        other_planned_after = time.monotonic() - started
        assert await consumer.handle(ticket_record(acme)) == "duplicate"
        webhooks = RecordingWebhooks()
        email = EmailSender("127.0.0.1", smtp_port, "support@provider.example", start_tls=False)
        deliverer = Deliverer(pool, email, webhooks, clock, RetryPolicy())  # type: ignore[arg-type]
        await deliverer.run_due(clock())
        await deliverer.close()
    assert other_planned_after < 2.0, other_planned_after
    assert failures(reason) == before + 1
    by_recipient = {m["To"]: m for m in mails}
    assert sorted(by_recipient) == ["noc@acme.example", "noc@other.example"]
    assert by_recipient["noc@acme.example"]["Subject"] == (
        "[TF-1] We received your ticket: No audio on outbound calls"
    )
    assert "Ticket number: TF-1" in by_recipient["noc@acme.example"].get_payload()
    (body,) = webhooks.bodies
    payload = orjson.loads(body)
    assert payload["event"] == acme.model_dump(mode="json", exclude_none=True)
    assert b"FORGED" not in body
    rows = await pool.fetch("SELECT channel, status FROM notifications WHERE account = 'acme'")
    assert sorted((r["channel"], r["status"]) for r in rows) == [
        ("email", "delivered"),
        ("webhook", "delivered"),
    ]


async def test_no_connection_is_held_while_a_template_renders(
    pool: asyncpg.Pool, templates: Templates
) -> None:
    await store.put_template(pool, "acme", "ticket_opened", "s", RUNAWAY)
    await templates.validate("ticket_opened", "warm", "up")
    consumer = NotifyConsumer(Planner(pool, templates, Clock(NOW)))
    handling = asyncio.create_task(
        consumer.handle(ticket_record(opened(str(uuid.uuid4()), "acme", "TF-3")))
    )
    await asyncio.sleep(0.4)  # the planner is inside the render (1 s budget)
    assert not handling.done()
    assert pool.get_idle_size() == pool.get_size()
    open_transactions = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%'"
    )
    assert open_transactions == 0
    assert await handling == "planned"


@pytest.mark.parametrize(
    ("subject", "body", "detail"),
    [
        ("s", RUNAWAY, "body: exceeded the 1.0 s time budget"),
        ("s", FLOOD, "body: output over 65536 characters"),
        ("s", TYPO, "body, line 1: 'tikcet' is undefined"),
        ("s", FORGE, "body, line 1: access to attribute 'update' of 'dict' object is unsafe"),
        ("{{ event.metirc }}", "b", "subject, line 1: 'dict object' has no attribute 'metirc'"),
    ],
)
async def test_put_refuses_a_template_that_fails_when_rendered(
    pool: asyncpg.Pool, templates: Templates, subject: str, body: str, detail: str
) -> None:
    """Passes once `put_template` calls `await deps.templates.validate(name, ...)`."""
    app = create_app()

    async def ready() -> dict[str, bool]:
        return {"database": True}

    app.state.deps = NotifyApiDeps(
        pool,
        ApiKeyVerifier(pool),
        templates,
        "admin-token",
        Clock(NOW),
        ready,
        lambda: None,
        guard=DestinationGuard(),
        secrets=SecretBox([Fernet.generate_key()]),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notify"
    ) as http:
        answer = await http.put(
            "/v1/admin/templates/acme/escalation_raised",
            json={"subject": subject, "body": body},
            headers={"Authorization": "Bearer admin-token"},
        )
        good = await http.put(
            "/v1/admin/templates/acme/ticket_opened",
            json={"subject": "[{{ ticket.number }}] logged", "body": "Hi {{ account }}"},
            headers={"Authorization": "Bearer admin-token"},
        )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == detail
    assert good.status_code == 204
    stored = await pool.fetch("SELECT name FROM notification_templates WHERE account = 'acme'")
    assert [r["name"] for r in stored] == ["ticket_opened"]
