"""The console's *Escalations* page on real PostgreSQL against the real escalation API: the
escalation service raises an escalation from an SLA breach (its own service layer and store),
the console projects the events it published, and the page's ack button acknowledges it
through the escalation API with the viewer's own key."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html import unescape

import asyncpg
import httpx
import pytest

from services.common.api_keys import ApiKeyVerifier
from services.common.runtime import migrate_service
from services.console.adapters.escalation_api import HttpEscalationAcks
from services.console.adapters.postgres import PostgresReadModel
from services.console.bootstrap import console_deps
from services.console.entrypoints.consumer import ConsoleConsumer
from services.console.entrypoints.pages import ConsoleApiDeps
from services.console.entrypoints.web import create_app as console_app
from services.console.service_layer.projection import Projection
from services.devstack.infrastructure import Infrastructure
from services.escalation.bootstrap import PostgresEscalator
from services.escalation.entrypoints.api import EscalationApiDeps
from services.escalation.entrypoints.api import create_app as escalation_app
from services.escalation.entrypoints.consumer import EscalationConsumer
from shared.events import Envelope
from shared.events.escalation import EscalationEvent
from shared.policy import policies_by_ref
from tests.integration.escalation_support import (
    Clock,
    account_with_matrix,
    breach,
    outbox_records,
    service_database,
)
from tests.integration.test_console import ADMIN, form_token, settings

TUESDAY = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
LEVELS = {1: ["oncall@acme.example"], 2: ["manager@acme.example"]}


class Counting(httpx.AsyncBaseTransport):
    """The escalation API's transport, keeping every request the console sent it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@dataclass
class Stack:
    pool: asyncpg.Pool
    console: httpx.AsyncClient
    api: httpx.AsyncClient
    sent: Counting
    deps: ConsoleApiDeps
    escalation: EscalationConsumer
    projected: ConsoleConsumer
    key: str
    """acme's API key."""
    other_key: str
    """globex's."""
    first: str
    second: str
    """The escalation ids of TF-ESC-1 and TF-ESC-2 (acme's)."""
    tickets: tuple[str, str]

    async def project(self) -> None:
        """The escalation service's published events, into the console's read model."""
        for record in await outbox_records(self.pool, "escalation"):
            await self.projected.on_escalation(EscalationEvent.model_validate(record))

    async def status(self, escalation_id: str) -> dict[str, object]:
        auth = {"Authorization": f"Bearer {self.key}"}
        found = await self.api.get(f"/v1/escalations/{escalation_id}", headers=auth)
        assert found.status_code == 200, found.text
        body: dict[str, object] = found.json()
        return body


@pytest.fixture
async def stack(infra: Infrastructure) -> AsyncIterator[Stack]:
    pool = await service_database(infra.database_url, "services.console.adapters", 9)
    await migrate_service(pool, "services.escalation.adapters", 1)
    try:
        key = await account_with_matrix(pool, "acme", "voximplant", LEVELS)
        other_key = await account_with_matrix(pool, "globex", "voximplant", LEVELS)
        escalator = PostgresEscalator(pool, policies_by_ref(), Clock(TUESDAY))
        escalation = EscalationConsumer(escalator)
        tickets = (str(uuid.uuid4()), str(uuid.uuid4()))
        for ticket, number in zip(tickets, ("TF-ESC-1", "TF-ESC-2"), strict=True):
            raised = await escalation.on_sla(breach(ticket, TUESDAY, ticket_number=number))
            assert raised == "escalation.raised"

        async def ready() -> dict[str, bool]:
            return {"database": True}

        api_app = escalation_app()
        api_app.state.deps = EscalationApiDeps(escalator, ApiKeyVerifier(pool), ready)
        sent = Counting(httpx.ASGITransport(app=api_app))
        app = console_app()
        deps = replace(
            console_deps(settings(), pool, lambda: TUESDAY + timedelta(minutes=10)),
            acks=HttpEscalationAcks("http://escalation", transport=sent),
        )
        app.state.deps = deps
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://console.test"
            ) as console,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api_app), base_url="http://escalation"
            ) as api,
        ):
            ids = {}
            for ticket in tickets:
                (found,) = (
                    await api.get(
                        "/v1/escalations",
                        params={"ticket": ticket},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                ).json()
                ids[ticket] = found["id"]
            projected = ConsoleConsumer(Projection(PostgresReadModel(pool)))
            found_stack = Stack(
                pool,
                console,
                api,
                sent,
                deps,
                escalation,
                projected,
                key,
                other_key,
                ids[tickets[0]],
                ids[tickets[1]],
                tickets,
            )
            await found_stack.project()
            yield found_stack
    finally:
        await pool.close()


async def sign_in(stack: Stack, key: str) -> None:
    form = await stack.console.get("/signin")
    signed = await stack.console.post("/signin", data={"key": key, "csrf": form_token(form.text)})
    assert signed.status_code == 303, signed.text


def row_of(html: str, escalation_id: str) -> str:
    found = re.search(rf'<tr data-escalation-id="{escalation_id}".*?</tr>', html, re.S)
    assert found is not None, html
    return found.group(0)


def status_message(html: str) -> str:
    found = re.search(r'<p class="[a-z]+" role="status">(.*?)</p>', html, re.S)
    assert found is not None, html
    return unescape(found.group(1))


async def ack(stack: Stack, escalation_id: str, by: str, csrf: str | None) -> httpx.Response:
    data = {"by": by} if csrf is None else {"by": by, "csrf": csrf}
    return await stack.console.post(f"/escalations/{escalation_id}/ack", data=data)


async def test_the_page_lists_the_accounts_escalations_with_ack_forms(stack: Stack) -> None:
    assert (await stack.console.get("/escalations")).headers["location"] == "/signin"
    await sign_in(stack, stack.key)

    page = await stack.console.get("/escalations", params={"tz": "America/New_York"})

    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    row = row_of(html, stack.first)
    assert f'<a href="/tickets/{stack.tickets[0]}">TF-ESC-1</a>' in row
    for shown in ("acme", "sev2", "first_response", "sla.breached", "raised"):
        assert f">{shown}<" in row or f">{shown} " in row, shown
    # Opened and due at 12:00 UTC, in the viewer's zone.
    assert row.count("Tue 17 Nov 07:00 EST") == 2
    assert f'action="/escalations/{stack.first}/ack"' in row
    assert re.search(r'<input id="by-[^"]+" name="by" value="" required maxlength="200"', row)
    assert "Acknowledged by</label>" in row and ">Acknowledge</button>" in row
    assert 'name="csrf"' in row
    assert "Projection lag" in html and "10 min 00 s" in html  # the events are 10 min old
    assert 'aria-current="page"' in html and "style=" not in html
    assert row_of(html, stack.second)
    assert "<script>" not in html


async def test_an_ack_without_the_csrf_token_is_refused_and_nothing_is_acknowledged(
    stack: Stack,
) -> None:
    await sign_in(stack, stack.key)
    await stack.console.get("/escalations")

    for csrf in (None, "forged.token"):
        refused = await ack(stack, stack.first, "mallory", csrf)
        assert refused.status_code == 403 and 'role="alert"' in refused.text

    assert stack.sent.requests == []
    assert (await stack.status(stack.first))["status"] == "raised"


async def test_an_ack_reaches_the_escalation_api_with_the_viewers_key(stack: Stack) -> None:
    await sign_in(stack, stack.key)
    page = await stack.console.get("/escalations")

    done = await ack(stack, stack.first, "  jane@noc ", form_token(page.text))

    assert done.status_code == 303
    assert done.headers["location"] == f"/escalations?acked={stack.first}"
    (request,) = stack.sent.requests
    assert request.headers["authorization"] == f"Bearer {stack.key}"
    found = await stack.status(stack.first)
    assert (found["status"], found["acknowledged_by"]) == ("acknowledged", "jane@noc")
    cookie = [c for c in done.headers.get_list("set-cookie") if c.startswith("tf_console_ack_by=")]
    assert len(cookie) == 1 and "samesite=lax" in cookie[0].lower()

    # The event has not reached the read model yet: the row says so, without a form.
    after = await stack.console.get(done.headers["location"])
    assert status_message(after.text) == "Acknowledged TF-ESC-1 first response as jane@noc."
    row = row_of(after.text, stack.first)
    assert "acknowledging…" in row and "<form" not in row and "jane@noc" in row
    # The next form is prefilled with the name typed last.
    assert 'name="by" value="jane@noc"' in row_of(after.text, stack.second)

    await stack.project()
    projected = row_of((await stack.console.get("/escalations")).text, stack.first)
    assert ">acknowledged<" in projected and ">jane@noc<" in projected
    assert "<form" not in projected


async def test_who_acknowledges_is_validated_before_anything_is_sent(stack: Stack) -> None:
    await sign_in(stack, stack.key)
    csrf = form_token((await stack.console.get("/escalations")).text)

    for by in ("", "   ", "x" * 201, "ja\x00ne"):
        refused = await ack(stack, stack.first, by, csrf)
        assert refused.status_code == 400, by
        assert "1 to 200 characters" in refused.text

    assert stack.sent.requests == []
    assert (await ack(stack, stack.first, "x" * 200, csrf)).status_code == 303
    assert (await stack.status(stack.first))["acknowledged_by"] == "x" * 200


async def test_another_accounts_key_neither_sees_nor_acknowledges_it(stack: Stack) -> None:
    await sign_in(stack, stack.other_key)
    page = await stack.console.get("/escalations")
    assert stack.first not in page.text and "TF-ESC-1" not in page.text
    assert "No open escalation." in page.text

    refused = await ack(stack, stack.first, "mallory", form_token(page.text))
    assert refused.status_code == 404 and "No such escalation" in refused.text
    missing = await ack(stack, "not-an-id", "mallory", form_token(page.text))
    assert missing.status_code == 404

    assert stack.sent.requests == []
    found = await stack.status(stack.first)
    assert (found["status"], found["acknowledged_by"]) == ("raised", None)


async def test_an_admin_session_sees_the_rows_without_ack_forms(stack: Stack) -> None:
    await sign_in(stack, ADMIN)
    page = await stack.console.get("/escalations")

    assert row_of(page.text, stack.first) and row_of(page.text, stack.second)
    assert "/ack" not in page.text and 'name="by"' not in page.text
    assert "sign in with an account API key to acknowledge" in page.text

    refused = await ack(stack, stack.first, "root", form_token(page.text))
    assert refused.status_code == 403
    assert stack.sent.requests == []
    assert (await stack.status(stack.first))["status"] == "raised"


async def test_an_unreachable_escalation_api_is_a_message_not_a_crash(stack: Stack) -> None:
    stack.deps.acks = HttpEscalationAcks("http://127.0.0.1:1")
    await sign_in(stack, stack.key)
    page = await stack.console.get("/escalations")

    failed = await ack(stack, stack.first, "jane", form_token(page.text))

    assert failed.status_code == 303
    assert failed.headers["location"] == f"/escalations?failed={stack.first}&status=0"
    shown = await stack.console.get(failed.headers["location"])
    assert shown.status_code == 200
    assert status_message(shown.text) == (
        "Could not acknowledge TF-ESC-1 first response: "
        "the escalation service could not be reached; try again."
    )
    row = row_of(shown.text, stack.first)
    assert ">raised<" in row and "<form" in row  # it can be tried again
    assert (await stack.status(stack.first))["status"] == "raised"


async def test_a_resolved_escalation_answers_its_message(stack: Stack) -> None:
    await sign_in(stack, stack.key)
    page = await stack.console.get("/escalations")
    resolved = Envelope(
        type="ticket.resolved",
        source="test",
        subject=stack.tickets[0],
        time=TUESDAY + timedelta(minutes=5),
        sequence=3,
        account="acme",
        policy="voximplant@1",
        data={},
    )
    assert await stack.escalation.on_ticket(resolved) == "resolved"
    # The console has not projected escalation.resolved yet: it still offers the form.

    failed = await ack(stack, stack.first, "jane", form_token(page.text))

    assert failed.headers["location"] == f"/escalations?failed={stack.first}&status=409"
    shown = await stack.console.get(failed.headers["location"])
    assert status_message(shown.text) == (
        "Could not acknowledge TF-ESC-1 first response: it is already resolved."
    )
    assert (await stack.status(stack.first))["status"] == "resolved"
    await stack.project()
    assert stack.first not in (await stack.console.get("/escalations")).text
