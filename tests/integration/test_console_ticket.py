"""The console's *Ticket* page and `GET /v1/tickets/{id}/timeline` on real PostgreSQL: the
ticket's events come through the consumer as they do from the topic, the page replays them
through the SLA core, draws the pause the history holds and the calendar's closed time, says
why each clock is due then, lists the history, and marks escalation pages; another account's
ticket is not found."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import asyncpg
import httpx
import pytest

from services.console.adapters.postgres import PostgresReadModel
from services.console.bootstrap import console_deps
from services.console.entrypoints.consumer import ConsoleConsumer
from services.console.entrypoints.web import create_app
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.events.escalation import EscalationEvent, escalation_event_id
from shared.topics import ESCALATIONS, TICKET_EVENTS
from tests.integration.escalation_support import account_with_matrix
from tests.integration.test_console import (
    ADMIN,
    Record,
    consumer_of,
    pool,  # noqa: F401  (the fixture)
    settings,
    signed_in,
)

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # Mon 09:30 in New York
FRIDAY_9PM_ET = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # after VoIPster's 20:00 cut-off
PAUSED = (NOW - timedelta(hours=3), NOW - timedelta(hours=2))
A_PAUSE, A_CUTOFF, G_1 = (str(uuid.uuid5(uuid.NAMESPACE_URL, name)) for name in ("p", "c", "g"))
VOX = "voximplant@1"
ACCOUNT = {A_PAUSE: "acme", A_CUTOFF: "acme", G_1: "globex"}


def ticket_record(
    ticket: str, kind: str, at: datetime, sequence: int, policy: str, **data: Any
) -> Record:
    envelope = Envelope(
        type=kind,
        source="intake",
        subject=ticket,
        time=at,
        recorded_at=at + timedelta(seconds=1),
        sequence=sequence,
        account=ACCOUNT[ticket],
        policy=policy,
        data=data,
    )
    kafka = to_kafka(envelope)
    return Record(TICKET_EVENTS.name, kafka.key, kafka.value, list(kafka.headers))


def paged(ticket: str, at: datetime) -> Record:
    episode = uuid.uuid5(uuid.NAMESPACE_URL, f"episode {ticket}")
    event = EscalationEvent(
        id=escalation_event_id(episode, "escalation.raised", 1),
        type="escalation.raised",
        escalation_id=episode,
        ticket_id=ticket,
        account=ACCOUNT[ticket],
        policy="voximplant@1",
        priority="sev1",
        metric="resolution",
        trigger="sla.warning",
        level=1,
        critical=True,
        at=at,
    )
    return Record(ESCALATIONS.name, ticket.encode(), event.model_dump_json().encode(), [])


@dataclass
class Console:
    http: httpx.AsyncClient
    key: str
    consumer: ConsoleConsumer


@pytest.fixture
async def console(pool: asyncpg.Pool) -> AsyncIterator[Console]:  # noqa: F811
    key = await account_with_matrix(pool, "acme", "voipster", {})
    await account_with_matrix(pool, "globex", "voipster", {})
    consumer = consumer_of(PostgresReadModel(pool))
    opened = NOW - timedelta(hours=4)
    records = [
        # voximplant sev1 with an 8 h resolution order: the resolution clock pauses.
        ticket_record(
            A_PAUSE, "ticket.opened", opened, 1, "voximplant@1",
            channel="email", priority="sev1", plan="gold", ticket_number="TF-PAUSE",
            target_overrides={"resolution": 8},
        ),
        ticket_record(A_PAUSE, "ticket.responded", opened + timedelta(minutes=20), 2, VOX),
        ticket_record(A_PAUSE, "ticket.awaiting_customer", PAUSED[0], 3, "voximplant@1"),
        ticket_record(A_PAUSE, "ticket.customer_replied", PAUSED[1], 4, "voximplant@1"),
        # VoIPster normal, opened after the Friday cut-off: its 2 h start Monday 09:00 ET.
        ticket_record(
            A_CUTOFF, "ticket.opened", FRIDAY_9PM_ET, 1, "voipster@1",
            channel="web", priority="normal", ticket_number="TF-CUTOFF",
        ),
        ticket_record(
            G_1, "ticket.opened", opened, 1, "voipster@1",
            channel="web", priority="normal", ticket_number="TF-GLOBEX",
        ),
    ]  # fmt: skip
    for record in reversed(records):  # arrival order does not matter
        assert await consumer.handle(record) in ("applied", "recorded")
    await consumer.handle(paged(A_PAUSE, NOW - timedelta(minutes=30)))
    app = create_app()
    app.state.deps = console_deps(settings(), pool, lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as http:
        yield Console(http, key, consumer)


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


async def test_the_ticket_page_draws_the_pause_and_lists_the_history(console: Console) -> None:
    await signed_in(console, console.key)

    page = await console.http.get(f"/tickets/{A_PAUSE}", params={"tz": "UTC"})

    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Ticket TF-PAUSE</h1>" in html
    timeline = html.split('<section id="timeline"')[1].split("</section>")[0]
    resolution = timeline.split('data-metric="resolution"')[1].split("</g>")[0]
    pause = re.search(r'<rect class="pause"[^>]*data-from="([^"]+)" data-to="([^"]+)"', timeline)
    assert pause is not None and resolution
    assert (pause.group(1), pause.group(2)) == ("2026-11-23T11:30:00Z", "2026-11-23T12:30:00Z")
    assert 'role="img"' in timeline and 'data-kind="page"' in timeline
    facts = text_of(html.split('<ul class="facts" data-metric="resolution">')[1].split("</ul>")[0])
    assert "Paused on the customer's side Mon 23 Nov 11:30 UTC to Mon 23 Nov 12:30 UTC" in facts
    why = text_of(html.split('<p class="why-due" data-metric="resolution">')[1].split("</p>")[0])
    assert why == (
        "Why is it due then? 1 h of the 8 h target ran before the pause; the rest: 7 h around "
        "the clock (24x7) from Mon 12:30 UTC → Mon 19:30 UTC"
    )
    history = html.split('<table id="history">')[1].split("</table>")[0]
    kinds = re.findall(r'<tr data-kind="([^"]+)"', history)
    assert kinds == [
        "ticket.opened",
        "ticket.responded",
        "ticket.awaiting_customer",
        "ticket.customer_replied",
    ]
    assert "//cdn" not in html and "script-src 'self'" in page.headers["content-security-policy"]


async def test_why_due_names_the_cut_off_and_the_closed_weekend(console: Console) -> None:
    await signed_in(console, console.key)

    page = await console.http.get(f"/tickets/{A_CUTOFF}", params={"tz": "Europe/Paris"})

    why = text_of(page.text.split('<p class="why-due" data-metric="first_response">')[1])
    why = why.split(" Clock ran")[0]
    assert "from Mon 09:00 EST" in why and "→ Mon 11:00 EST (Mon 17:00 CET)" in why, why
    facts = text_of(page.text.split('<ul class="facts" data-metric="first_response">')[1])
    assert "Closed (outside business hours)" in facts


async def test_the_timeline_json_is_the_sla_view_with_markers_and_history(
    console: Console,
) -> None:
    await signed_in(console, console.key)

    found = await console.http.get(f"/v1/tickets/{A_PAUSE}/timeline")

    assert found.status_code == 200, found.text
    body = found.json()
    sla = body["sla"]
    assert sla["version"] == 4 and sla["waiting_for_sequences"] == []
    resolution = sla["metrics"]["resolution"]
    assert resolution["status"] == "running" and resolution["due_at"] == "2026-11-23T19:30:00Z"
    assert resolution["pauses"] == [{"from": "2026-11-23T11:30:00Z", "to": "2026-11-23T12:30:00Z"}]
    assert [m["kind"] for m in body["markers"]] == ["page"]
    assert body["why_due"]["resolution"].endswith("→ Mon 19:30 UTC")
    assert [e["sequence"] for e in body["history"]] == [1, 2, 3, 4]
    assert body["held"] == []


async def test_another_accounts_ticket_is_not_found(console: Console) -> None:
    await signed_in(console, console.key)

    page = await console.http.get(f"/tickets/{G_1}")
    api = await console.http.get(f"/v1/tickets/{G_1}/timeline")
    bearer = await console.http.get(
        f"/v1/tickets/{G_1}/timeline",
        headers={"authorization": f"Bearer {console.key}"},
    )

    assert page.status_code == 404 and "TF-GLOBEX" not in page.text
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert bearer.status_code == 404
    admin = await console.http.get(
        f"/v1/tickets/{G_1}/timeline", headers={"authorization": f"Bearer {ADMIN}"}
    )
    assert admin.status_code == 200 and admin.json()["account"] == "globex"


async def test_signed_out_the_page_redirects_and_the_api_refuses(console: Console) -> None:
    page = await console.http.get(f"/tickets/{A_PAUSE}", follow_redirects=False)
    api = await console.http.get(f"/v1/tickets/{A_PAUSE}/timeline")
    assert page.status_code == 303 and page.headers["location"] == "/signin"
    assert api.status_code == 401


async def test_an_event_past_a_gap_is_listed_held_and_not_folded(console: Console) -> None:
    resolved = ticket_record(
        A_CUTOFF, "ticket.resolved", NOW - timedelta(minutes=5), 3, "voipster@1"
    )
    assert await console.consumer.handle(resolved) == "ended"  # sequence 2 is not here yet
    await signed_in(console, console.key)

    found = (await console.http.get(f"/v1/tickets/{A_CUTOFF}/timeline")).json()
    page = await console.http.get(f"/tickets/{A_CUTOFF}")

    assert found["sla"]["version"] == 1 and found["sla"]["waiting_for_sequences"] == [3]
    assert found["sla"]["metrics"]["first_response"]["status"] == "running"
    assert [e["sequence"] for e in found["history"]] == [1, 3]
    assert found["held"] == [found["history"][1]["event_id"]]
    assert "Waiting for earlier events before applying events 3." in page.text
    assert '<tr data-kind="ticket.resolved"' in page.text and "(held)" in page.text
