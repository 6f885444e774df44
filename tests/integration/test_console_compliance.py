"""The console's *Compliance* page and `GET /v1/reports/compliance` on real PostgreSQL: the
tickets are written through intake's event store, their stored envelopes go through the
console's consumer as the relay would publish them, and the report the console serves (JSON,
CSV, breaches CSV) is byte for byte what `ticketflow report compliance` prints from the event
store; a key sees only its own accounts' figures; the page draws the charts and lists the
breaches."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import httpx
import orjson
import pytest

from services.console.adapters.postgres import PostgresReadModel
from services.console.bootstrap import console_deps
from services.console.entrypoints.web import create_app
from shared.events import Envelope
from shared.events.codec import stored_to_kafka, to_kafka
from shared.topics import TICKET_EVENTS
from tests.integration.escalation_support import account_with_matrix
from tests.integration.test_console import (
    ADMIN,
    Record,
    consumer_of,
    pool,  # noqa: F401  (the fixture)
    settings,
    signed_in,
)
from tests.integration.test_console_ticket import Console, text_of
from tests.integration.test_report_compliance import (
    AS_OF,
    T0,
    _cli,
    _opened,
    _store,
    url,  # noqa: F401  (the fixture)
)

NOW = datetime.fromisoformat(AS_OF)


async def _published(store_url: str) -> list[Record]:
    """Every stored envelope as the relay publishes it to the ticket-events topic."""
    conn = await asyncpg.connect(store_url)
    try:
        rows = await conn.fetch(
            "SELECT envelope, recorded_at FROM events ORDER BY ticket_id, version"
        )
    finally:
        await conn.close()
    out = []
    for row in rows:
        kafka = stored_to_kafka(orjson.loads(row["envelope"]), row["recorded_at"])
        out.append(Record(TICKET_EVENTS.name, kafka.key, kafka.value, list(kafka.headers)))
    return out


@pytest.fixture
async def console(pool: asyncpg.Pool, url: str) -> AsyncIterator[Console]:  # noqa: F811
    await _store(url)
    key = await account_with_matrix(pool, "vip", "voipster", {})
    consumer = consumer_of(PostgresReadModel(pool))
    for record in reversed(await _published(url)):  # arrival order does not matter
        assert await consumer.handle(record) in ("applied", "recorded")
    app = create_app()
    app.state.deps = console_deps(settings(), pool, lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as http:
        yield Console(http, key, consumer)


ADMIN_BEARER = {"Authorization": f"Bearer {ADMIN}"}


@pytest.mark.parametrize(
    ("params", "flags", "media"),
    [
        ({}, (), "application/json"),
        ({"format": "csv"}, ("--csv",), "text/csv"),
        ({"format": "csv", "breaches": "true"}, ("--csv", "--breaches"), "text/csv"),
    ],
    ids=["json", "csv", "breaches-csv"],
)
async def test_the_export_is_the_clis_report_byte_for_byte(
    console: Console,
    url: str,  # noqa: F811
    params: dict[str, str],
    flags: tuple[str, ...],
    media: str,
) -> None:
    served = await console.http.get(
        "/v1/reports/compliance", params={"month": "2026-11", **params}, headers=ADMIN_BEARER
    )
    printed = await asyncio.to_thread(
        _cli, url, "compliance", "--month", "2026-11", "--as-of", AS_OF, *flags
    )

    assert served.status_code == 200, served.text
    assert served.headers["content-type"].startswith(media)
    assert printed.exit_code == 0, printed.output
    assert served.content == printed.stdout_bytes  # (.stdout turns CRLF into LF)
    assert served.headers["x-clocks-as-of"] == "2026-12-01T00:00:00+00:00"
    if media == "application/json":
        body = json.loads(served.content)
        assert [r["met_percent"] for r in body["rows"]] == ["100.0", "33.3", "100.0", "100.0"]
        assert len(body["breaches"]) == 2
    else:
        assert "attachment" in served.headers["content-disposition"]


async def test_a_key_sees_only_its_accounts_figures(console: Console) -> None:
    mine = await console.http.get(
        "/v1/reports/compliance",
        params={"month": "2026-11"},
        headers={"Authorization": f"Bearer {console.key}"},
    )

    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert [(r["policy"], r["priority"]) for r in body["rows"]] == [("voipster", "emergency")]
    assert body["breaches"] == []


async def test_the_report_refuses_a_bad_month_and_a_missing_key(console: Console) -> None:
    bad = await console.http.get(
        "/v1/reports/compliance", params={"month": "2026-13"}, headers=ADMIN_BEARER
    )
    anonymous = await console.http.get("/v1/reports/compliance", params={"month": "2026-11"})

    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "month" in bad.text
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_the_page_draws_the_charts_and_lists_the_breaches(console: Console) -> None:
    await signed_in(console, ADMIN)

    page = await console.http.get("/compliance", params={"month": "2026-11", "tz": "UTC"})

    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Compliance 2026-11</h1>" in html
    bars = re.findall(
        r'<g class="bar" data-priority="([^"]+)" data-metric="([^"]+)" '
        r'data-met-percent="([^"]*)"',
        html,
    )
    assert bars == [
        ("emergency", "first_response", "100.0"),
        ("sev1", "first_response", "33.3"),
        ("sev2", "first_response", "100.0"),
        ("sev2", "customer_response", "100.0"),
    ]
    assert html.count('role="img"') == 4  # met % and first response, for both policies
    assert "sev1 · first response: 33.3 % met (1 of 3 decided)" in html
    assert "sev1: p50 10 min, p90 2 h" in html
    table = text_of(html.split('<table id="compliance">')[1].split("</table>")[0])
    assert "voximplant sev1 first response 3 1 2 0 33.3 10 min 2 h" in table
    breaches = html.split('<table id="breaches">')[1].split("</table>")[0]
    assert len(re.findall(r'<tr data-ticket="', breaches)) == 2
    assert "Tue 10 Nov 11:00 UTC" in text_of(breaches)
    assert "1 ticket(s), unknown policy 'gone@9'" in text_of(html)
    assert 'href="/v1/reports/compliance?month=2026-11&amp;format=csv"' in html
    assert "//cdn" not in html


async def test_the_page_shows_only_the_viewers_accounts_and_a_bad_month(
    console: Console,
) -> None:
    await signed_in(console, console.key)

    page = await console.http.get("/compliance", params={"month": "2026-13"})

    assert page.status_code == 200
    assert 'role="alert"' in page.text and "YYYY-MM" in page.text
    assert "<h1>Compliance 2026-12</h1>" in page.text  # the current month instead
    november = await console.http.get("/compliance", params={"month": "2026-11"})
    assert "Policy voipster" in november.text and "voximplant" not in november.text


async def test_a_ticket_still_missing_events_counts_what_came_before_the_gap(
    console: Console,
) -> None:
    """Its response (sequence 3) came before event 2: held, so the ticket counts as opened and
    not answered, and the page says a ticket waits for earlier events."""
    ticket = uuid.uuid4()
    opened = _opened(ticket, "vip", "voipster@1", T0, channel="web", priority="emergency")
    responded = Envelope(
        type="ticket.responded",
        source="test",
        subject=str(ticket),
        time=T0 + timedelta(minutes=5),
        sequence=3,
        account="vip",
        policy="voipster@1",
    )
    for envelope in (opened, responded):
        kafka = to_kafka(envelope)
        record = Record(TICKET_EVENTS.name, kafka.key, kafka.value, list(kafka.headers))
        assert await console.consumer.handle(record) in ("applied", "recorded")
    await signed_in(console, ADMIN)

    page = await console.http.get("/compliance", params={"month": "2026-11"})
    report = await console.http.get(
        "/v1/reports/compliance", params={"month": "2026-11"}, headers=ADMIN_BEARER
    )

    assert "1 ticket(s) wait for earlier events" in text_of(page.text)
    (emergency,) = [r for r in report.json()["rows"] if r["priority"] == "emergency"]
    assert (emergency["tickets"], emergency["met"]) == (2, 1)
