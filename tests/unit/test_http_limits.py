"""The limits every API shares (`services/common/http_limits.py`): the body limit, the
per-API-key rate limit, and their settings, on the intake and escalation apps without a
database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.common.api_keys import ApiKey
from services.common.http_settings import HttpSettings
from services.common.rate_limit import RATE_LIMITED
from services.escalation.entrypoints.api import EscalationApiDeps
from services.escalation.entrypoints.api import create_app as escalation_app
from services.escalation.settings import EscalationSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.intake.entrypoints.deps import IntakeDeps
from services.intake.settings import IntakeSettings

AUTH = {"Authorization": "Bearer tf_k1_secret"}


class Keys:
    """Every key is valid; its id is the presented key's middle part."""

    async def authenticate(self, presented: str) -> ApiKey:
        return ApiKey(presented.split("_")[1], frozenset({"acme"}))


class NoEscalations:
    async def listing(self, *args: Any) -> list[Any]:
        return []


class NoTickets:
    async def list_tickets(self, *args: Any) -> list[Any]:
        return []


async def ready() -> dict[str, bool]:
    return {"database": True}


def with_escalation_deps(app: Any) -> Any:
    app.state.deps = EscalationApiDeps(NoEscalations(), Keys(), ready)  # type: ignore[arg-type]
    return app


def intake(http: HttpSettings) -> Any:
    deps = IntakeDeps(
        store=NoTickets(),  # type: ignore[arg-type]
        accounts=Keys(),  # type: ignore[arg-type]
        idempotency=None,  # type: ignore[arg-type]
        policies={},
        now=lambda: datetime.now(UTC),
        random_digits=lambda n: "0" * n,
        new_ticket_id=uuid.uuid4,
        admin_token="t",
        readiness=ready,
    )
    return intake_app(deps, http=http)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


def refused(service: str) -> float:
    value: float = RATE_LIMITED.labels(service)._value.get()
    return value


# --- body size -------------------------------------------------------------------------------


async def test_escalation_refuses_a_body_over_the_limit_with_a_413_problem() -> None:
    app = with_escalation_deps(escalation_app(http=HttpSettings(max_body_bytes=1_024)))
    async with client(app) as http:
        response = await http.post(
            f"/v1/escalations/{uuid.uuid4()}/ack", headers=AUTH, json={"by": "x" * 2_000}
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit_bytes"] == 1_024


@pytest.mark.parametrize(
    "make", [intake, lambda http: with_escalation_deps(escalation_app(http=http))]
)
async def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit(make: Any) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"by": "'
        for _ in range(1_000):
            sent += 512
            yield b"x" * 512

    async with client(make(HttpSettings(max_body_bytes=4_096))) as http:
        response = await http.post(
            f"/v1/escalations/{uuid.uuid4()}/ack"
            if make is not intake
            else f"/v1/tickets/{uuid.uuid4()}/events",
            headers={**AUTH, "Content-Type": "application/json"},
            content=chunks(),
        )
    assert response.status_code == 413, response.text
    assert response.json()["title"] == "Request body too large"
    assert sent < 100_000


# --- rate limit ------------------------------------------------------------------------------


async def test_escalation_rate_limits_each_api_key_with_a_429_and_retry_after() -> None:
    app = with_escalation_deps(
        escalation_app(http=HttpSettings(rate_limit_per_second=0.5, rate_limit_burst=2))
    )
    before = refused("escalation")
    async with client(app) as http:
        codes = [(await http.get("/v1/escalations", headers=AUTH)).status_code for _ in range(2)]
        limited = await http.get("/v1/escalations", headers=AUTH)
        other_key = await http.get("/v1/escalations", headers={"X-Api-Key": "tf_k2_secret"})
    assert codes == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["retry_after_seconds"] == 2
    assert other_key.status_code == 200
    assert refused("escalation") == before + 1


async def test_intake_rate_limits_each_api_key_where_it_is_verified() -> None:
    before = refused("intake")
    async with client(intake(HttpSettings(rate_limit_per_second=1, rate_limit_burst=3))) as http:
        codes = [(await http.get("/v1/tickets", headers=AUTH)).status_code for _ in range(4)]
        health = await http.get("/healthz")
    assert codes == [200, 200, 200, 429]
    assert health.status_code == 200
    assert refused("intake") == before + 1


async def test_a_rate_of_zero_turns_limiting_off() -> None:
    async with client(intake(HttpSettings(rate_limit_per_second=0, rate_limit_burst=1))) as http:
        codes = {(await http.get("/v1/tickets", headers=AUTH)).status_code for _ in range(30)}
    assert codes == {200}


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_limit_per_second": float("inf")},
        {"rate_limit_per_second": float("nan")},
        {"rate_limit_per_second": -1},
        {"rate_limit_burst": 0},
        {"header_timeout_seconds": 0},
        {"body_timeout_seconds": float("inf")},
        {"api_key_cache_seconds": 3_600},
        {"max_header_bytes": 16_384, "max_head_bytes": 8_192},
    ],
)
def test_http_settings_are_finite_positive_and_bounded(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HttpSettings(**bad)


def test_each_service_reads_the_limits_under_its_own_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "x:9092")
    monkeypatch.setenv("TICKETFLOW_RATE_LIMIT_PER_SECOND", "5")
    monkeypatch.setenv("TICKETFLOW_ESCALATION_RATE_LIMIT_PER_SECOND", "7")
    monkeypatch.setenv("TICKETFLOW_ESCALATION_HEADER_TIMEOUT_SECONDS", "3")
    assert IntakeSettings().rate_limit_per_second == 5
    escalation = EscalationSettings()
    assert (escalation.rate_limit_per_second, escalation.header_timeout_seconds) == (7, 3)
