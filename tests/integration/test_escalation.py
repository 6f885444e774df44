"""The escalation service on real PostgreSQL: raise once, quiet hours, acknowledgement stops
the next level, ticket resolution ends it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import BadMessage
from services.devstack.infrastructure import Infrastructure
from services.escalation.bootstrap import PostgresEscalator as Escalator
from services.escalation.entrypoints.api import EscalationApiDeps, create_app
from services.escalation.entrypoints.consumer import EscalationConsumer
from shared.events import Envelope
from shared.policy import policies_by_ref
from tests.integration.escalation_support import (
    Clock,
    account_with_matrix,
    breach,
    outbox_records,
    service_database,
)

# Saturday 2026-11-21 02:00 in Los Angeles, outside hosted-voice standard hours.
SATURDAY_NIGHT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
LEVELS = {1: ["oncall@acme.example", "lead@acme.example"], 2: ["manager@acme.example"]}


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.escalation.adapters", 1)
    try:
        yield pool
    finally:
        await pool.close()


def types(records: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(r["type"], r["level"], tuple(r["recipients"])) for r in records]  # type: ignore[arg-type]


async def test_a_breach_pages_level_one_once_even_when_redelivered(pool: asyncpg.Pool) -> None:
    await account_with_matrix(pool, "acme", "voximplant", LEVELS)
    consumer = EscalationConsumer(Escalator(pool, policies_by_ref(), Clock(TUESDAY)))
    event = breach(str(uuid.uuid4()), TUESDAY)
    assert await consumer.on_sla(event) == "escalation.raised"
    assert await consumer.on_sla(event) == "duplicate"
    records = await outbox_records(pool, "escalation")
    assert types(records) == [
        ("escalation.raised", 1, ("lead@acme.example", "oncall@acme.example"))
    ]
    assert records[0]["deadline"] == "2026-11-17T12:00:00Z"


async def test_quiet_hours_delay_a_low_priority_escalation_and_not_an_emergency(
    pool: asyncpg.Pool,
) -> None:
    await account_with_matrix(pool, "hv", "hosted-voice", LEVELS)
    clock = Clock(SATURDAY_NIGHT)
    escalator = Escalator(pool, policies_by_ref(), clock)
    consumer = EscalationConsumer(escalator)
    low, emergency = str(uuid.uuid4()), str(uuid.uuid4())
    assert await consumer.on_sla(
        breach(low, SATURDAY_NIGHT, account="hv", policy="hosted-voice@1", priority="p3")
    ) == ("escalation.deferred")
    assert await consumer.on_sla(
        breach(emergency, SATURDAY_NIGHT, account="hv", policy="hosted-voice@1", priority="p1")
    ) == ("escalation.raised")
    # The emergency climbs in wall-clock hours (level 2 after 2 h, level 3 after 8 h); the
    # low-priority one waits for Monday 08:00 in Los Angeles.
    assert await escalator.next_due() == SATURDAY_NIGHT + timedelta(hours=2)
    assert await escalator.run_due(SATURDAY_NIGHT + timedelta(hours=1)) == 0
    assert await escalator.run_due(SATURDAY_NIGHT + timedelta(hours=2)) == 1
    assert await escalator.run_due(MONDAY_OPENING) == 2
    records = await outbox_records(pool, "escalation")
    assert [(r["ticket_id"], r["type"], r["level"], r["at"]) for r in records] == [
        (low, "escalation.deferred", 0, "2026-11-21T10:00:00Z"),
        (emergency, "escalation.raised", 1, "2026-11-21T10:00:00Z"),
        (emergency, "escalation.level_advanced", 2, "2026-11-21T12:00:00Z"),
        # Level 3 fell due Saturday 18:00Z, but the scheduler next ran on Monday: the page
        # is stamped when it went out.
        (emergency, "escalation.level_advanced", 3, "2026-11-23T16:00:00Z"),
        (low, "escalation.raised", 1, "2026-11-23T16:00:00Z"),
    ]
    assert records[0]["data"] == {"until": "2026-11-23T16:00:00+00:00"}


async def test_acknowledgement_stops_the_next_level(pool: asyncpg.Pool) -> None:
    key = await account_with_matrix(pool, "acme", "voximplant", LEVELS)
    await account_with_matrix(pool, "other", "voximplant", LEVELS)
    clock = Clock(TUESDAY)
    escalator = Escalator(pool, policies_by_ref(), clock)
    consumer = EscalationConsumer(escalator)
    acked, ignored = str(uuid.uuid4()), str(uuid.uuid4())
    for ticket in (acked, ignored):
        await consumer.on_sla(breach(ticket, TUESDAY))
    app = create_app()

    async def ready() -> dict[str, bool]:
        return {"database": True}

    app.state.deps = EscalationApiDeps(escalator, ApiKeyVerifier(pool), ready)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        auth = {"Authorization": f"Bearer {key}"}
        listed = (await http.get("/v1/escalations", params={"ticket": acked}, headers=auth)).json()
        assert [item["status"] for item in listed] == ["raised"]
        clock.advance(timedelta(minutes=10))
        ack = await http.post(
            f"/v1/escalations/{listed[0]['id']}/ack", json={"by": "jane"}, headers=auth
        )
        assert ack.status_code == 200, ack.text
        assert ack.json()["status"] == "acknowledged"
        assert (
            await http.post("/v1/escalations/x/ack", json={"by": "j"}, headers=auth)
        ).status_code == 422
        other_key = await account_with_matrix(pool, "third", "voximplant", {})
        hidden = await http.post(
            f"/v1/escalations/{listed[0]['id']}/ack",
            json={"by": "mallory"},
            headers={"Authorization": f"Bearer {other_key}"},
        )
        assert hidden.status_code == 404
        assert hidden.headers["content-type"] == "application/problem+json"
        metrics = (await http.get("/metrics")).text
        assert 'ticketflow_escalations_open{status="raised"} 1.0' in metrics
        assert 'ticketflow_escalations_open{status="acknowledged"} 1.0' in metrics
        assert 'ticketflow_outbox_pending{service="escalation"} 3.0' in metrics
        assert (await http.get("/readyz")).json() == {
            "status": "ready",
            "checks": {"database": True},
        }
    assert await escalator.run_due(TUESDAY + timedelta(hours=2)) == 1
    records = await outbox_records(pool, "escalation")
    advanced = [
        (r["ticket_id"], r["level"], tuple(r["recipients"]))
        for r in records
        if r["type"] == "escalation.level_advanced"
    ]
    assert advanced == [(ignored, 2, ("manager@acme.example",))]
    assert [r["data"] for r in records if r["type"] == "escalation.acknowledged"] == [
        {"by": "jane"}
    ]


async def test_resolving_the_ticket_ends_its_escalations(pool: asyncpg.Pool) -> None:
    await account_with_matrix(pool, "acme", "voximplant", LEVELS)
    escalator = Escalator(pool, policies_by_ref(), Clock(TUESDAY))
    consumer = EscalationConsumer(escalator)
    ticket = str(uuid.uuid4())
    await consumer.on_sla(breach(ticket, TUESDAY))
    resolved = Envelope(
        type="ticket.resolved",
        source="test",
        subject=ticket,
        time=TUESDAY + timedelta(minutes=30),
        sequence=3,
        account="acme",
        policy="voximplant@1",
        data={},
    )
    assert await consumer.on_ticket(resolved) == "resolved"
    assert await escalator.next_due() is None
    records = await outbox_records(pool, "escalation")
    assert [(r["type"], r["data"]) for r in records][-1] == (
        "escalation.resolved",
        {"why": "ticket_resolved"},
    )


def ticket_event(ticket: str, kind: str, sequence: int, **data: object) -> Envelope:
    return Envelope(
        type=kind,
        source="test",
        subject=ticket,
        time=TUESDAY,
        sequence=sequence,
        account="acme",
        policy="voximplant@1",
        data=data,
    )


async def test_a_customer_escalation_request_pages_with_the_tickets_priority_and_plan(
    pool: asyncpg.Pool,
) -> None:
    await account_with_matrix(pool, "acme", "voximplant", LEVELS)
    consumer = EscalationConsumer(Escalator(pool, policies_by_ref(), Clock(TUESDAY)))
    ticket = str(uuid.uuid4())
    opened = ticket_event(
        ticket,
        "ticket.opened",
        1,
        channel="email",
        priority="sev2",
        plan="gold",
        ticket_number="TF-1234-567890",
    )
    assert await consumer.on_ticket(opened) == "remembered"
    request = ticket_event(ticket, "ticket.escalation_requested", 2, reason="severity_disputed")
    assert await consumer.on_ticket(request) == "escalation.raised"
    assert await consumer.on_ticket(request) == "duplicate"
    records = await outbox_records(pool, "escalation")
    assert [
        (r["metric"], r["priority"], r["reason"], r["ticket_number"], r["level"]) for r in records
    ] == [("customer_request", "sev2", "severity_disputed", "TF-1234-567890", 1)]
    row = await pool.fetchrow("SELECT plan FROM escalations WHERE ticket_id = $1", ticket)
    assert row is not None and row["plan"] == "gold"
    stranger = ticket_event(str(uuid.uuid4()), "ticket.escalation_requested", 2, reason="quality")
    with pytest.raises(BadMessage, match="no ticket.opened"):
        await consumer.on_ticket(stranger)


async def test_a_ticket_logged_long_after_its_deadline_gets_one_page_at_the_level_due(
    pool: asyncpg.Pool,
) -> None:
    # voximplant sev2: levels at 0, 1 and 4 h. The breach reaches escalation 5 h after its
    # deadline (a ticket imported late): one page at level 3, not three within milliseconds.
    # The account has no level-3 contacts, so the page goes to the highest level it skipped
    # that has some (level 2), never to nobody.
    await account_with_matrix(pool, "late", "voximplant", LEVELS)
    clock = Clock(TUESDAY + timedelta(hours=5))
    escalator = Escalator(pool, policies_by_ref(), clock)
    ticket = str(uuid.uuid4())
    event = breach(ticket, TUESDAY, account="late")
    assert await EscalationConsumer(escalator).on_sla(event) == "escalation.raised"
    assert await escalator.run_due(clock()) == 0
    records = [r for r in await outbox_records(pool, "escalation") if r["ticket_id"] == ticket]
    assert [(r["type"], r["level"], r["at"], r["data"]) for r in records] == [
        ("escalation.raised", 3, "2026-11-17T17:00:00Z", {"skipped_levels": [1, 2]})
    ]
    assert records[0]["deadline"] == "2026-11-17T12:00:00Z"
    assert records[0]["recipients"] == LEVELS[2]
    row = await pool.fetchrow(
        "SELECT raised_at, deadline, levels_from FROM escalations WHERE ticket_id = $1", ticket
    )
    assert row["raised_at"] == TUESDAY + timedelta(hours=5)
    assert row["deadline"] == row["levels_from"] == TUESDAY
