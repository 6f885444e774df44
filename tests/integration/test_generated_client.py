"""The intake OpenAPI document is usable (issue 16): a client generated from it with
openapi-python-client opens a ticket, appends events and reads the ticket's SLA clocks, and
nothing else talks to intake.

The document is `app.openapi()` of the very app the client then calls (in process, through an
httpx ASGI transport). The SLA read is real: intake's outbox relay publishes the ticket's
events to the real broker, a real SLA worker (a child process) times them, and intake asks it
with the internal token, as deployed."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import secrets
import subprocess
import sys
import time
import typing
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from openapi_python_client.strings import PythonIdentifier

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outbox_relay import OutboxRelay, kafka_sender
from services.intake.adapters.sla_client import SlaClient
from services.intake.entrypoints import schemas
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.deps import IntakeDeps
from shared.policy import load_policies
from shared.topics import TICKET_EVENTS
from tests.integration.sla_support import INTERNAL_TOKEN, SlaApp

ADMIN_TOKEN = "generated-client-admin-token"
GENERATOR_TIMEOUT_S = 60
SLA_WAIT_S = 30
# openapi-python-client runs ruff over what it wrote unless told otherwise; the test imports
# the code as generated (and needs no ruff on PATH).
GENERATOR_CONFIG: dict[str, list[str]] = {"post_hooks": []}


# --- the stack: intake in process, its relay, a real SLA worker ------------------------------


@pytest.fixture
async def intake(infra: Infrastructure, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """Intake in process, wired as bootstrap does: its relay, and a real SLA worker to ask."""
    url = await ensure_database(infra.database_url, f"genclient_{uuid.uuid4().hex[:10]}")
    sla = SlaApp(tmp_path / "sla", infra.kafka_bootstrap_servers, url)
    await sla.provision()  # the topics, and intake's tables (the worker reads the store)
    pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
    assert pool is not None
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    stop = asyncio.Event()
    relay_task: asyncio.Task[None] | None = None
    sla_client: SlaClient | None = None
    try:
        worker = sla.start()  # blocks until the worker's /readyz answers
        await producer.start()
        relay = OutboxRelay(pool, kafka_sender(producer), TICKET_EVENTS.name, poll_interval=0.2)
        relay_task = asyncio.create_task(relay.run(stop))
        sla_client = SlaClient(worker.url, token=INTERNAL_TOKEN)

        async def ready() -> dict[str, bool]:
            return {"database": True, "broker": True}

        deps = IntakeDeps(
            store=EventStore(pool, on_commit=relay.wake),
            accounts=AccountStore(pool),
            idempotency=IdempotencyStore(pool),
            policies=load_policies(),
            now=lambda: datetime.now(UTC),
            random_digits=lambda n: "".join(secrets.choice("0123456789") for _ in range(n)),
            new_ticket_id=uuid.uuid4,
            admin_token=ADMIN_TOKEN,
            readiness=ready,
            relay=relay,
            sla=sla_client,
        )
        yield create_app(deps)
    finally:
        stop.set()
        if relay_task is not None:
            await asyncio.wait_for(relay_task, timeout=10)
        await producer.stop()
        if sla_client is not None:
            await sla_client.close()
        await pool.close()
        sla.stop_all()


# --- the generated client --------------------------------------------------------------------


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Path]:
    """A folder to generate into, on sys.path while the test runs; its modules are forgotten
    afterwards."""
    where = tmp_path / "generated"
    where.mkdir()
    sys.path.insert(0, str(where))
    try:
        yield where
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.split(".")[0].startswith("intake_client_")]:
            del sys.modules[name]


def generate(document: dict[str, Any], where: Path) -> tuple[ModuleType, str]:
    """Run openapi-python-client over `document`; return the imported package and what the
    generator printed. Any warning fails the generation (`--fail-on-warning`)."""
    path = where / "intake-openapi.json"
    path.write_text(json.dumps(document))
    config = where / "generator-config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    package = f"intake_client_{uuid.uuid4().hex[:8]}"
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(path),
            "--output-path",
            str(where / package),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=GENERATOR_TIMEOUT_S,
        check=False,
    )
    printed = ran.stdout + ran.stderr
    assert ran.returncode == 0, f"openapi-python-client failed:\n{printed}"
    assert "warning" not in printed.lower(), printed
    importlib.invalidate_caches()
    return importlib.import_module(package), printed


def endpoint(package: ModuleType, document: dict[str, Any], method: str, path: str) -> Any:
    """The generated module of one operation: `api/<tag>/<operationId>.py`, both made Python
    identifiers the way the generator names them."""
    operation = document["paths"][path][method]
    tag = PythonIdentifier(operation["tags"][0], "field_")
    name = PythonIdentifier(operation["operationId"], "field_")
    return importlib.import_module(f"{package.__name__}.api.{tag}.{name}")


def model(package: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{package.__name__}.models"), name)


def event_types_of(package: ModuleType, body: Any) -> set[str]:
    """The `type` values of the models in a generated append-event body union (the models
    import each other only for type checkers: their names resolve in the models package)."""
    names = vars(importlib.import_module(f"{package.__name__}.models"))
    found = set()
    for member in typing.get_args(body):
        (literal,) = typing.get_args(typing.get_type_hints(member, localns=names)["type_"])
        found.add(literal)
    return found


def utc(value: str | datetime) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(UTC)


async def sla_when(get_sla: Any, client: Any, ticket_id: uuid.UUID, version: int) -> Any:
    """The SLA view once the worker has applied the ticket's events up to `version`."""
    deadline = time.monotonic() + SLA_WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        last = await get_sla.asyncio_detailed(ticket_id, client=client)
        if last.status_code == 200:
            assert type(last.parsed).__name__ == "SlaView", last.parsed  # typed, not a dict
            view = last.parsed.to_dict()
            if view["version"] >= version:
                return view
        else:
            assert last.status_code == 404, last.content  # not processed yet
        await asyncio.sleep(0.2)
    pytest.fail(f"no SLA view at version {version} within {SLA_WAIT_S} s: {last.content!r}")


# --- the test --------------------------------------------------------------------------------


async def test_a_client_generated_from_the_document_opens_appends_and_reads_the_sla(
    intake: FastAPI, generated: Path
) -> None:
    document = intake.openapi()
    client_package, _ = generate(document, generated)
    client_module = importlib.import_module(f"{client_package.__name__}.client")
    authenticated = client_module.AuthenticatedClient

    create_account = endpoint(client_package, document, "post", "/v1/admin/accounts")
    add_contact = endpoint(
        client_package, document, "post", "/v1/admin/accounts/{account_id}/contacts"
    )
    issue_key = endpoint(client_package, document, "post", "/v1/admin/api-keys")
    open_ticket = endpoint(client_package, document, "post", "/v1/tickets")
    append_event = endpoint(client_package, document, "post", "/v1/tickets/{ticket_id}/events")
    get_ticket = endpoint(client_package, document, "get", "/v1/tickets/{ticket_id}")
    get_sla = endpoint(client_package, document, "get", "/v1/tickets/{ticket_id}/sla")

    # What the document promises, as the generator understood it. Every operation on tickets
    # needs a credential (the security schemes), so its client is an AuthenticatedClient and
    # nothing less; the append body is one model per event type a client may post.
    for operation in (open_ticket, append_event, get_ticket, get_sla):
        hints = typing.get_type_hints(operation.asyncio_detailed)
        assert hints["client"] is authenticated, (operation.__name__, hints["client"])
    body = typing.get_type_hints(append_event.asyncio_detailed)["body"]
    assert event_types_of(client_package, body) == set(schemas.API_EVENT_TYPES)
    assert "if_match" in inspect.signature(append_event.asyncio_detailed).parameters

    def client(token: str) -> Any:
        return authenticated(
            base_url="http://intake",
            token=token,
            raise_on_unexpected_status=True,
            httpx_args={"transport": httpx.ASGITransport(app=intake)},
        )

    account = f"gen-{uuid.uuid4().hex[:8]}"
    contact = f"noc@{account}.example"
    async with client(ADMIN_TOKEN) as admin:
        created = await create_account.asyncio_detailed(
            client=admin,
            body=model(client_package, "CreateAccountBody")(
                id=account, name="Generated client", policy="voipster"
            ),
        )
        assert created.status_code == 201, created.content
        approved = await add_contact.asyncio_detailed(
            account, client=admin, body=model(client_package, "ContactBody")(email=contact)
        )
        assert approved.status_code == 201, approved.content
        issued = await issue_key.asyncio(
            client=admin, body=model(client_package, "ApiKeyBody")(accounts=[account])
        )
        assert issued.key.startswith("tf_")

    # VoIPster: an emergency is answered within 15 minutes around the clock (24x7).
    opened_at = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    responded_at = opened_at + timedelta(minutes=1)
    async with client(issued.key) as api:
        ticket = await open_ticket.asyncio(
            client=api,
            body=model(client_package, "OpenTicketBody")(
                account=account,
                contact=contact,
                channel=model(client_package, "Channel").WEB,
                priority="emergency",
                subject="All trunks down",
                occurred_at=opened_at,
            ),
        )
        assert ticket.__class__.__name__ == "TicketCreated", ticket
        assert (ticket.version, ticket.policy, ticket.status) == (1, "voipster@1", "open")
        assert utc(ticket.occurred_at) == opened_at

        running = await sla_when(get_sla, api, ticket.ticket_id, version=1)
        first = running["metrics"]["first_response"]
        assert (running["policy"], running["priority"]) == ("voipster@1", "emergency")
        assert first["status"] == "running"
        assert utc(first["due_at"]) == opened_at + timedelta(minutes=15)
        assert first["target"] == {"seconds": 900.0, "calendar": "24x7"}

        commented = await append_event.asyncio(
            ticket.ticket_id,
            client=api,
            if_match='"1"',
            body=model(client_package, "AppendCommentAdded")(
                type_="ticket.comment_added",
                data=model(client_package, "TicketCommentAdded")(
                    body="Customer called for an update", public=False
                ),
            ),
        )
        assert (commented.type_, commented.version) == ("ticket.comment_added", 2)
        responded = await append_event.asyncio(
            ticket.ticket_id,
            client=api,
            if_match='"2"',
            body=model(client_package, "AppendResponded")(
                type_="ticket.responded",
                occurred_at=responded_at,
                data=model(client_package, "TicketResponded")(by="noc-1", note="On it"),
            ),
        )
        assert (responded.type_, responded.version) == ("ticket.responded", 3)

        view = await get_ticket.asyncio_detailed(ticket.ticket_id, client=api)
        assert view.status_code == 200 and view.parsed.version == 3, view.content

        met = await sla_when(get_sla, api, ticket.ticket_id, version=3)
        first = met["metrics"]["first_response"]
        assert first["status"] == "met", met
        assert utc(first["met_at"]) == responded_at
        assert utc(first["due_at"]) == opened_at + timedelta(minutes=15)
        assert first["breached_at"] is None

        # Refusals parse as the document's Problem: a stale If-Match and an unknown priority.
        problem = model(client_package, "Problem")
        stale = await append_event.asyncio_detailed(
            ticket.ticket_id,
            client=api,
            if_match='"1"',
            body=model(client_package, "AppendClosed")(type_="ticket.closed"),
        )
        assert stale.status_code == 409 and isinstance(stale.parsed, problem), stale.content
        assert stale.parsed.additional_properties["current_version"] == 3
        refused = await append_event.asyncio_detailed(
            ticket.ticket_id,
            client=api,
            body=model(client_package, "AppendSeverityChanged")(
                type_="ticket.severity_changed",
                data=model(client_package, "TicketSeverityChanged")(priority="urgent!!"),
            ),
        )
        assert refused.status_code == 422 and isinstance(refused.parsed, problem)
        assert (refused.parsed.title, refused.parsed.field) == (
            "Invalid event data",
            "data.priority",
        )
