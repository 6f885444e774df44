"""Intake's input limits, outage answers and the /readyz and /metrics of its background tasks,
without a database or broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import errors as kafka_errors
from pydantic import ValidationError

from services.common.api_keys import ApiKey
from services.common.backoff import Backoff
from services.common.health import TaskRegistry
from services.common.http_settings import HttpSettings
from services.common.problems import Problem
from services.common.supervision import supervise
from services.intake.adapters.outage import database_unavailable
from services.intake.adapters.outbox_relay import RelayStats
from services.intake.adapters.produce_errors import refuses_record
from services.intake.entrypoints import schemas
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.entrypoints.limits import RequestLimits

# --- text limits and unencodable strings ------------------------------------------------------


COMMENT = schemas.APPEND_BODIES["ticket.comment_added"]


def test_every_string_of_a_body_is_bounded_and_the_problem_names_it() -> None:
    limits = RequestLimits(max_subject_chars=10, max_text_chars=20)
    limits.check_text(COMMENT(type="ticket.comment_added", data={"body": "x" * 20}))
    with pytest.raises(Problem) as event:
        limits.check_text(COMMENT(type="ticket.comment_added", data={"body": "x" * 21}))
    assert event.value.status == 422
    assert event.value.extra == {"field": "data.body", "limit_chars": 20}
    account = schemas.CreateAccountBody(
        id="acme",
        name="Acme",
        policy="voipster",
        escalation={"rules": [{"notes": ["fine", "y" * 21]}]},
    )
    with pytest.raises(Problem) as refused:
        limits.check_text(account)
    assert refused.value.status == 422
    assert refused.value.extra == {"field": "escalation.rules[0].notes[1]", "limit_chars": 20}
    assert "escalation.rules[0].notes[1] is 21 characters long; the limit is 20" == (
        refused.value.detail
    )

    opening = schemas.OpenTicketBody(
        account="a", contact="a@b.cc", channel="web", priority="p1", subject="s" * 11
    )
    with pytest.raises(Problem) as subject:
        limits.check_text(opening)
    assert subject.value.extra == {"field": "subject", "limit_chars": 10}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"body": "\udfff"}, "data.body"),
        ({"body": "x", "note": [{"k": "a\ud800b"}]}, "data.note[0].k"),
        ({"\udcff": "x"}, "data"),
    ],
)
def test_lone_surrogates_anywhere_are_refused_at_validation(
    data: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        COMMENT(type="ticket.comment_added", data=data)
    [error] = refused.value.errors()
    assert error["loc"] == ("data",)
    assert f"{named}: text is not valid Unicode" in error["msg"]


def test_valid_unicode_is_accepted() -> None:
    body = COMMENT(type="ticket.comment_added", data={"body": "Grüße 📞 ok"})
    assert body.data.model_dump()["body"] == "Grüße 📞 ok"


# --- classification of failures ---------------------------------------------------------------


def test_only_record_specific_produce_errors_are_quarantined() -> None:
    assert refuses_record(kafka_errors.MessageSizeTooLargeError())
    assert refuses_record(kafka_errors.RecordTooLargeError())
    assert refuses_record(kafka_errors.CorruptRecordException())
    # "not retriable" by aiokafka's flag, but about the broker, not the record
    assert not refuses_record(kafka_errors.KafkaTimeoutError())
    assert not refuses_record(kafka_errors.TopicAuthorizationFailedError())
    assert not refuses_record(kafka_errors.KafkaConnectionError())
    assert not refuses_record(ValueError("bug"))


def test_database_outage_errors() -> None:
    assert database_unavailable(ConnectionRefusedError())
    assert database_unavailable(TimeoutError())
    assert not database_unavailable(ValueError("not an outage"))


# --- the API without a database ---------------------------------------------------------------


class DownAccounts:
    async def authenticate(self, presented: str) -> ApiKey:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")


def deps(tasks: TaskRegistry | None = None) -> IntakeDeps:
    async def readiness() -> dict[str, bool]:
        return {"database": True, "broker": True}

    return IntakeDeps(
        store=None,  # type: ignore[arg-type]
        accounts=DownAccounts(),  # type: ignore[arg-type]
        idempotency=None,  # type: ignore[arg-type]
        policies={},
        now=lambda: datetime.now(UTC),
        random_digits=lambda n: "0" * n,
        new_ticket_id=uuid.uuid4,
        admin_token="t",
        readiness=readiness,
        tasks=tasks,
    )


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def test_a_database_outage_is_a_503_with_retry_after() -> None:
    async with client(create_app(deps(), retry_after=7)) as http:
        response = await http.get("/v1/tickets", headers={"Authorization": "Bearer tf_x"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["retry_after_seconds"] == 7


async def test_a_body_over_the_limit_is_refused_before_anything_reads_it() -> None:
    app = create_app(deps(), http=HttpSettings(max_body_bytes=2_048))
    async with client(app) as http:
        response = await http.post(
            f"/v1/tickets/{uuid.uuid4()}/events",
            headers={"Authorization": "Bearer tf_x"},
            json={"type": "ticket.comment_added", "data": {"body": "x" * 3_000}},
        )
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 2_048
    assert response.json()["title"] == "Request body too large"


async def test_readyz_reports_a_dead_background_task() -> None:
    stop = asyncio.Event()
    tasks = TaskRegistry()

    async def dies(stop: asyncio.Event) -> None:
        raise RuntimeError("relay died")

    runner = asyncio.create_task(
        supervise(dies, stop, tasks.register("relay"), backoff=Backoff(5, 5))
    )
    await asyncio.sleep(0.01)
    async with client(create_app(deps(tasks))) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"] == {"database": True, "broker": True, "tasks": False}
    assert body["unhealthy_tasks"] == {"relay": "dead"}
    assert body["tasks"]["relay"]["last_error"] == "RuntimeError: relay died"
    stop.set()
    await runner


class QuarantiningRelay:
    def __init__(self) -> None:
        self.stats = RelayStats(quarantined=0, quarantine_open=0, held_events=0)

    async def measure_lag(self) -> RelayStats:
        return self.stats


class CountingStore:
    append_statements = 0


async def test_metrics_count_quarantined_records_and_task_health() -> None:
    tasks = TaskRegistry()
    tasks.register("relay").started()
    relay = QuarantiningRelay()
    wired = deps(tasks)
    wired.relay = relay  # type: ignore[assignment]
    wired.store = CountingStore()  # type: ignore[assignment]
    async with client(create_app(wired)) as http:
        relay.stats = RelayStats(quarantined=2, quarantine_open=1, held_events=3)
        await http.get("/metrics")
        relay.stats = RelayStats(quarantined=3, quarantine_open=2, held_events=4)
        text = (await http.get("/metrics")).text
    assert "ticketflow_outbox_quarantined_total 3.0" in text
    assert "ticketflow_outbox_quarantine_open 2.0" in text
    assert "ticketflow_outbox_held_events 4.0" in text
    assert 'ticketflow_intake_task_healthy{task="relay"} 1.0' in text
