"""Billing on real PostgreSQL: the ledger contract (the same scenarios on the PostgreSQL
ledger and its in-memory twin), the consumer's dead letters, and the API's scoping, statement
formats and admin terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from services.billing.adapters.memory import MemoryLedger
from services.billing.adapters.postgres import PostgresLedger
from services.billing.domain.rules import AccountTerms, Money
from services.billing.entrypoints.api import BillingApiDeps, create_app
from services.billing.entrypoints.consumer import BillingConsumer
from services.billing.service_layer.ledger import Biller
from services.billing.service_layer.reads import BillingReads
from services.common.api_keys import ApiKeyVerifier
from services.common.consumer import BadMessage
from services.devstack.infrastructure import Infrastructure
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.policy import policies_by_ref
from tests.integration.escalation_support import (
    account_with_matrix,
    outbox_records,
    service_database,
)
from tests.unit.billing_tickets import T0, Ticket

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICIES = policies_by_ref()
ADMIN = "test-admin-token-0123456789abcdef"


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    pool = await service_database(infra.database_url, "services.billing.adapters", 7)
    try:
        yield pool
    finally:
        await pool.close()


@dataclass
class Backend:
    store: Any
    pool: asyncpg.Pool | None

    async def published(self) -> list[dict[str, Any]]:
        if self.pool is None:
            return [e.model_dump(mode="json") for e in self.store.published]
        return await outbox_records(self.pool, "billing")  # type: ignore[return-value]


@pytest.fixture(params=["memory", "postgres"])
async def backend(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> Backend:
    if request.param == "memory":
        return Backend(MemoryLedger(), None)
    return Backend(PostgresLedger(pool), pool)


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["type"] for r in records]


async def test_ledger_contract_charge_redelivery_and_void(backend: Backend) -> None:
    biller = Biller(backend.store, POLICIES, lambda: NOW)
    ticket = Ticket("hosted-voice@1")
    events = [
        ticket.event(
            "ticket.opened",
            0,
            channel="phone",
            priority="p1",
            flags=["off_hours_p1_billable_review"],
        ),
        ticket.work(0, 90, "off_hours"),
        ticket.event("ticket.determination_recorded", 120, fault="customer"),
    ]
    for event in events + events:
        await biller.on_ticket_event(event)
    records = await backend.published()
    assert kinds(records) == ["charge.assessed"]
    assert records[0]["charge"]["amount"] == "200.00"
    assert records[0]["account"] == "acme" and records[0]["ticket_id"] == ticket.id
    statement = await BillingReads(backend.store).statement("acme", "2026-11")
    assert statement.totals == {"USD": Decimal("200.00")}
    await biller.on_ticket_event(
        ticket.event("ticket.determination_recorded", 300, fault="provider")
    )
    assert kinds(await backend.published()) == ["charge.assessed", "charge.voided"]
    assert (await BillingReads(backend.store).statement("acme", "2026-11")).lines == ()
    listed = await BillingReads(backend.store).charges("acme", "2026-11")
    assert [e.voided_at is not None for e in listed] == [True]


async def test_ledger_contract_prepaid_runs_out(backend: Backend) -> None:
    reads = BillingReads(backend.store)
    rates = {"emergency": Money(Decimal("250"), "USD"), "standard": Money(Decimal("125"), "USD")}
    await reads.set_terms("acme", AccountTerms(rates), 30)
    assert (await reads.top_up("acme", 90)).balance_minutes == 90
    biller = Biller(backend.store, POLICIES, lambda: NOW)
    ticket = Ticket("voice1@1")
    for event in (
        ticket.event(
            "ticket.opened", 0, channel="phone", priority="emergency", flags=["prepay_required"]
        ),
        ticket.event("ticket.ess_started", 0),
        ticket.work(0, 120, "emergency"),
    ):
        await biller.on_ticket_event(event)
    assert kinds(await backend.published()) == [
        "charge.assessed",
        "charge.assessed",
        "prepaid.exhausted",
    ]
    prepaid = await reads.prepaid("acme")
    assert prepaid is not None and prepaid.balance_minutes == 0
    assert (await reads.top_up("acme", 60)).balance_minutes == 60


async def test_ledger_contract_tam_budget(backend: Backend) -> None:
    biller = Biller(backend.store, POLICIES, lambda: NOW)
    ticket = Ticket("voximplant@1")
    await biller.on_ticket_event(
        ticket.event("ticket.opened", 0, channel="email", priority="sev3", plan="silver")
    )
    for hour in range(9):
        await biller.on_ticket_event(ticket.work(hour * 60, 60, "tam"))
    records = await backend.published()
    assert kinds(records) == ["tam.budget_warning", "tam.budget_exhausted"]
    assert records[1]["tam"] == {"month": "2026-11", "used_minutes": 540, "budget_hours": 8}
    usage = await BillingReads(backend.store).tam("acme", "2026-11")
    assert usage is not None and usage.left_minutes == 0


def _record(ticket: Ticket, kind: str, sequence: int, **data: Any) -> Any:
    envelope = Envelope(
        type=kind,
        source="test",
        subject=ticket.id,
        time=T0,
        sequence=sequence,
        account=ticket.account,
        policy=ticket.policy,
        data=data,
    )
    return to_kafka(envelope)


async def test_the_consumer_dead_letters_what_it_cannot_place(pool: asyncpg.Pool) -> None:
    consumer = BillingConsumer(Biller(PostgresLedger(pool), POLICIES, lambda: NOW))
    ticket = Ticket("hosted-voice@1")
    with pytest.raises(BadMessage) as unopened:
        await consumer.handle(
            _record(
                ticket,
                "ticket.work_logged",
                2,
                by="x",
                started_at=T0.isoformat(),
                minutes=5,
                rate="off_hours",
            )
        )
    assert unopened.value.reason == "unknown_ticket"
    stranger = Ticket("nope@1")
    with pytest.raises(BadMessage) as unknown:
        await consumer.handle(_record(stranger, "ticket.opened", 1, channel="web", priority="p1"))
    assert unknown.value.reason == "unknown_policy"

    class Garbage:
        key, value, headers = b"k", b"{not json", [("ce_type", b"ticket.opened")]

    with pytest.raises(BadMessage) as garbage:
        await consumer.handle(Garbage())
    assert garbage.value.reason == "undecodable"
    assert await pool.fetchval("SELECT count(*) FROM billing_events") == 0
    assert (
        await consumer.handle(_record(ticket, "ticket.opened", 1, channel="web", priority="p1"))
        == "recorded"
    )


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    key = await account_with_matrix(pool, "acme", "voipster", {})
    await account_with_matrix(pool, "other", "voipster", {})
    ledger = PostgresLedger(pool)

    async def ready() -> dict[str, bool]:
        return {"database": True, "broker": True}

    app = create_app()
    app.state.deps = BillingApiDeps(
        BillingReads(ledger), ApiKeyVerifier(pool), ADMIN, ready, now=lambda: NOW
    )
    biller = Biller(ledger, POLICIES, lambda: NOW)
    for account in ("acme", "other"):
        ticket = Ticket("voipster@1", account)
        await biller.on_ticket_event(
            ticket.event("ticket.opened", 0, channel="phone", priority="emergency")
        )
        await biller.on_ticket_event(
            ticket.event("ticket.determination_recorded", 9, criticality="not_critical")
        )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as http:
        yield http, key


async def test_the_api_serves_an_accounts_statement_only_to_its_keys(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = client
    auth = {"Authorization": f"Bearer {key}"}
    body = (await http.get("/v1/accounts/acme/statement?month=2026-11", headers=auth)).json()
    assert body["totals"] == {"USD": "150.00"} and len(body["charges"]) == 1
    assert body["charges"][0]["source"].startswith("emergency tickets opened for issues")
    csv = await http.get("/v1/accounts/acme/statement?month=2026-11&format=csv", headers=auth)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[-1] == "total,,,,,,,,150.00,USD,"
    assert (await http.get("/v1/accounts/acme/charges", headers=auth)).json()[0][
        "status"
    ] == "assessed"
    other = await http.get("/v1/accounts/other/statement?month=2026-11", headers=auth)
    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    assert (await http.get("/v1/accounts/acme/statement")).status_code == 401
    bad = await http.get("/v1/accounts/acme/statement?month=2026-13", headers=auth)
    assert bad.status_code == 422
    assert (await http.get("/v1/accounts/acme/prepaid", headers=auth)).status_code == 404
    metrics = (await http.get("/metrics")).text
    assert 'ticketflow_outbox_pending{service="billing"} 2.0' in metrics  # both charges queued
    tam = (await http.get("/v1/accounts/acme/tam?month=2026-11", headers=auth)).json()
    assert tam == {
        "account": "acme",
        "month": "2026-11",
        "used_minutes": 0,
        "budget_hours": None,
        "left_minutes": None,
    }


async def test_admin_terms_and_top_ups_need_the_admin_token(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = client
    admin = {"Authorization": f"Bearer {ADMIN}"}
    terms = {
        "rates": {"emergency": {"amount": "250.00", "currency": "USD"}},
        "prepaid_low_minutes": 30,
    }
    assert (await http.put("/v1/admin/accounts/acme/terms", json=terms)).status_code == 401
    assert (
        await http.put(
            "/v1/admin/accounts/acme/terms", json=terms, headers={"Authorization": f"Bearer {key}"}
        )
    ).status_code == 401
    assert (
        await http.put("/v1/admin/accounts/acme/terms", json=terms, headers=admin)
    ).status_code == 204
    topped = await http.post("/v1/admin/accounts/acme/prepaid", json={"minutes": 20}, headers=admin)
    assert topped.json() == {
        "account": "acme",
        "balance_minutes": 20,
        "low_at_minutes": 30,
        "status": "low",
    }
    refused = await http.post("/v1/admin/accounts/acme/prepaid", json={"minutes": 0}, headers=admin)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["minutes"]
    prepaid = await http.get(
        "/v1/accounts/acme/prepaid", headers={"Authorization": f"Bearer {key}"}
    )
    assert prepaid.json()["balance_minutes"] == 20
