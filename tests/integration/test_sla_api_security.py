"""The SLA worker's HTTP API: API keys scoped to accounts, the internal token, the rate
limit, request bounds, Faust's own pages switched off, the OpenAPI document.

One worker serves the whole module (its reads are cheap; starting it is not). The
forwarding of a request to the partition owner, with its credential and headers, is
covered by the two-worker test in test_sla_service.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import asyncpg
import httpx
import jsonschema
import pytest
from faust.exceptions import SameNode
from multidict import CIMultiDict
from pydantic import ValidationError
from yarl import URL

from services.common.api_keys import ApiKey
from services.common.rate_limit import RateLimiter
from services.devstack.infrastructure import Infrastructure
from services.intake.adapters.sla_client import SlaClient, SlaUnavailable
from services.sla.adapters.api_key_store import KeyStoreUnavailable
from services.sla.entrypoints.api_auth import INTERNAL, Authenticator, Caller
from services.sla.entrypoints.openapi import document
from services.sla.entrypoints.table_routing import ROUTED_HEADER, forwarding_router
from services.sla.entrypoints.web import ApiAccess, _caller
from services.sla.settings import SlaSettings
from tests.integration.sla_support import INTERNAL as INTERNAL_HEADERS
from tests.integration.sla_support import INTERNAL_TOKEN, SlaApp, bearer, opened

BURST = 5
KEEP_ALIVE_S = 2


class Served:
    def __init__(self, app: SlaApp, url: str, ticket: str) -> None:
        self.app = app
        self.url = url
        self.ticket = ticket
        self.path = f"/v1/tickets/{ticket}/sla"


@pytest.fixture(scope="module")
async def served(  # type: ignore[no-untyped-def]
    infra: Infrastructure, database_url: str, tmp_path_factory
) -> AsyncIterator[Served]:
    app = SlaApp(
        tmp_path_factory.mktemp("sla-security"),
        infra.kafka_bootstrap_servers,
        database_url,
        settings={
            "TICKETFLOW_SLA_RATE_LIMIT_PER_SECOND": "0.01",
            "TICKETFLOW_SLA_RATE_LIMIT_BURST": str(BURST),
            "TICKETFLOW_SLA_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE_S),
        },
    )
    await app.provision()
    try:
        worker = app.start()
        ticket = str(uuid.uuid4())
        await app.publish([opened(ticket, datetime.now(UTC) + timedelta(hours=1))])
        async with httpx.AsyncClient(base_url=worker.url, headers=INTERNAL_HEADERS) as http:
            for _ in range(100):
                if (await http.get(f"/v1/tickets/{ticket}/sla")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
        yield Served(app, worker.url, ticket)
    finally:
        app.stop_all()


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def get(served: Served, path: str | None = None, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
        return await http.get(path or served.path, **kwargs)


# --- who may read ---------------------------------------------------------------------------


async def test_an_anonymous_read_is_401_with_a_bearer_challenge(served: Served) -> None:
    response = await get(served)
    body = is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "acme" not in response.text and "account" not in body


async def test_a_wrong_or_revoked_credential_is_401(served: Served) -> None:
    real = await served.app.issue_key("acme")
    key_id = real.split("_")[1]
    revoked = await served.app.issue_key("acme")
    conn = await asyncpg.connect(served.app.database_url)
    try:
        await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1", revoked.split("_")[1]
        )
    finally:
        await conn.close()
    for headers in (
        bearer("tf_000000000000_nosuchsecret"),
        bearer(f"tf_{key_id}_wrongsecret"),
        bearer("not-a-key"),
        bearer(INTERNAL_TOKEN + "x"),
        {"X-Api-Key": f"tf_{key_id}_wrongsecret"},
        {"Authorization": f"Basic {real}"},
        bearer(revoked),
    ):
        response = await get(served, headers=headers)
        is_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_another_accounts_key_gets_the_404_of_an_unknown_ticket(served: Served) -> None:
    other = await served.app.issue_key("globex")
    foreign = is_problem(await get(served, headers=bearer(other)), 404)
    unknown_path = f"/v1/tickets/{uuid.uuid4()}/sla"
    unknown = is_problem(await get(served, unknown_path, headers=bearer(other)), 404)
    assert (foreign["type"], foreign["title"]) == (unknown["type"], unknown["title"])
    assert "acme" not in str(foreign)


async def test_a_key_of_the_account_reads_its_ticket_as_bearer_or_x_api_key(
    served: Served,
) -> None:
    key = await served.app.issue_key("globex", "acme")
    assert (await get(served)).status_code == 401  # the key is what lets it through
    for headers in (bearer(key), {"X-Api-Key": key}):
        response = await get(served, headers=headers)
        assert response.status_code == 200, response.text
        view = response.json()
        assert view["ticket_id"] == served.ticket and view["account"] == "acme"
        schema = {"$ref": "#/components/schemas/SlaView", **document()}
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
            view
        )


async def test_the_internal_token_reads_any_account_and_intakes_client_sends_it(
    served: Served,
) -> None:
    response = await get(served, headers=INTERNAL_HEADERS)
    assert response.status_code == 200 and response.json()["account"] == "acme"
    client = SlaClient(served.url, token=INTERNAL_TOKEN)
    anonymous = SlaClient(served.url)
    try:
        view = await client.view(uuid.UUID(served.ticket))
        assert view is not None and view["ticket_id"] == served.ticket
        assert await client.view(uuid.uuid4()) is None
        with pytest.raises(SlaUnavailable, match="internal token"):
            await anonymous.view(uuid.UUID(served.ticket))
    finally:
        await client.close()
        await anonymous.close()


# --- Faust's own pages, the document, the open endpoints ----------------------------------


async def test_faust_default_pages_are_404(served: Served) -> None:
    for path in (
        "/",
        "/router/",
        "/router/sla_state/",
        "/table/",
        "/table/sla_state/",
        f"/table/sla_state/{served.ticket}/",
        "/assignment/",
        "/graph/",
        "/performance/",
    ):
        is_problem(await get(served, path), 404)


async def test_openapi_json_is_the_generated_document_and_ops_endpoints_stay_open(
    served: Served,
) -> None:
    response = await get(served, "/openapi.json")
    assert response.status_code == 200
    assert response.json() == document()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await get(served, path)).status_code == 200, path
        assert response.json()["paths"][path]["get"]["security"] == []


# --- how often, how much ---------------------------------------------------------------------


async def test_a_key_over_its_burst_gets_429_with_retry_after(served: Served) -> None:
    key = await served.app.issue_key("acme")
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
        codes = [
            (await http.get(served.path, headers=bearer(key))).status_code for _ in range(BURST)
        ]
        assert codes == [200] * BURST
        refused = await http.get(served.path, headers=bearer(key))
        is_problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1
        # Other keys and the internal token are not held back by it.
        assert (await http.get(served.path, headers=INTERNAL_HEADERS)).status_code == 200
        fresh = await served.app.issue_key("acme")
        assert (await http.get(served.path, headers=bearer(fresh))).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert 'ticketflow_rate_limited_total{service="sla"}' in metrics


async def chunks() -> AsyncIterator[bytes]:
    yield b"a body of unknown length"


async def test_a_request_body_is_413(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
        for response in (
            await http.request("GET", served.path, headers=INTERNAL_HEADERS, content=b"x" * 2048),
            await http.post(served.path, headers=INTERNAL_HEADERS, content=b"x" * 2048),
            await http.request("GET", served.path, headers=INTERNAL_HEADERS, content=chunks()),
        ):
            is_problem(response, 413)
        is_problem(await http.post(served.path, headers=INTERNAL_HEADERS), 405)


async def test_an_oversized_header_is_400_before_any_work(served: Served) -> None:
    headers = {**INTERNAL_HEADERS, "X-Padding": "p" * 9000}
    body = is_problem(await get(served, headers=headers), 400)
    assert (body["header"], body["limit_bytes"]) == ("X-Padding", 8192)
    assert "ppp" not in str(body)  # never the value
    # Far over the limit, aiohttp's parser refuses it itself (a plain 400).
    secret = "q" * 40_000
    assert (await get(served, headers={"X-Padding": secret})).status_code == 400
    await asyncio.sleep(0.5)
    logged = served.app.workers[0].log.read_bytes()
    assert b"LineTooLong" in logged and b"qqqqqqqqqq" not in logged  # logged without its bytes
    assert (await get(served, headers={**INTERNAL_HEADERS, "X-Ok": "p" * 8000})).status_code == 200


async def test_a_client_slow_to_send_its_headers_is_disconnected(served: Served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: sla\r\nX-Slow: ")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=KEEP_ALIVE_S + 5) == b""
    finally:
        writer.close()


# --- the parts on their own ------------------------------------------------------------------


class Keys:
    def __init__(self, known: dict[str, ApiKey] | None = None, down: bool = False) -> None:
        self.known = known or {}
        self.down = down
        self.asked: list[str] = []

    async def authenticate(self, presented: str) -> ApiKey | None:
        self.asked.append(presented)
        if self.down:
            raise KeyStoreUnavailable("OSError")
        return self.known.get(presented)


async def test_the_internal_token_is_checked_before_any_key_lookup() -> None:
    keys = Keys({"tf_a_b": ApiKey("a", frozenset({"acme"}))})
    auth = Authenticator(keys, INTERNAL_TOKEN)
    assert await auth.caller({"authorization": f"Bearer {INTERNAL_TOKEN}"}) == INTERNAL
    assert keys.asked == []
    assert await auth.caller({"x-api-key": INTERNAL_TOKEN}) is None  # a bearer only
    assert await auth.caller({"authorization": "Bearer tf_a_b"}) == Caller("a", frozenset({"acme"}))
    assert await auth.caller({}) is None
    assert INTERNAL.may_read("anyone") and not Caller("a", frozenset({"acme"})).may_read("globex")
    empty = Authenticator(Keys(), "")
    assert await empty.caller({"authorization": "Bearer "}) is None


async def test_a_key_store_outage_is_503_with_retry_after_and_the_token_still_works() -> None:
    access = ApiAccess(Authenticator(Keys(down=True), INTERNAL_TOKEN), RateLimiter("t", 0, 1))
    request = SimpleNamespace(headers={"authorization": "Bearer tf_a_b"}, path="/v1/x")
    refused: Any = await _caller(access, request)
    assert refused.status == 503 and refused.headers["Retry-After"] == "2"
    request.headers = {"authorization": f"Bearer {INTERNAL_TOKEN}"}
    assert await _caller(access, request) == INTERNAL


@pytest.mark.parametrize("token", ["dev-internal-token", "changeme", "short-but-real"])
def test_production_refuses_a_placeholder_or_short_internal_token(token: str) -> None:
    base: dict[str, Any] = {
        "KAFKA_BOOTSTRAP_SERVERS": "k:9092",
        "DATABASE_URL": "postgresql://db/x",
    }
    with pytest.raises(ValidationError, match="TICKETFLOW_INTERNAL_TOKEN"):
        SlaSettings(TICKETFLOW_ENVIRONMENT="production", TICKETFLOW_INTERNAL_TOKEN=token, **base)
    assert SlaSettings(
        TICKETFLOW_ENVIRONMENT="development", TICKETFLOW_INTERNAL_TOKEN=token, **base
    )
    real = "x" * 32
    settings = SlaSettings(
        TICKETFLOW_ENVIRONMENT="production", TICKETFLOW_INTERNAL_TOKEN=real, **base
    )
    assert settings.internal_token.get_secret_value() == real and real not in repr(settings)


class Owner:
    """The owner's answer, as Faust's aiohttp client session gives it."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: dict[str, Any] = {}
        self.status = 429
        self.content_type = "application/problem+json"
        self.headers = CIMultiDict(
            {"Retry-After": "3", "WWW-Authenticate": "Bearer", "Set-Cookie": "x"}
        )

    def request(self, **kwargs: Any) -> Owner:
        self.sent = kwargs
        return self

    async def __aenter__(self) -> Owner:
        if self.fail:
            raise aiohttp.ClientConnectionError("refused")
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return b'{"status": 429}'


class Web:
    def bytes(self, value: bytes, **kwargs: Any) -> Any:
        return SimpleNamespace(body=value, **kwargs)


def routing(owner_url: str, client: Owner) -> Any:
    here = URL("http://10.0.0.1:8081")
    app = SimpleNamespace(
        assignor=None,
        conf=SimpleNamespace(canonical_url=here),
        http_client=client,
    )
    router = forwarding_router(timeout_s=2.0)(app)  # type: ignore[arg-type]
    router.key_store = lambda table, key: URL(owner_url)  # the assignment's answer
    return router


def routed_request(**headers: str) -> Any:
    url = URL("http://10.0.0.1:8081/v1/tickets/t/sla")
    return SimpleNamespace(method="GET", url=url, headers=CIMultiDict(headers))


async def test_a_forwarded_request_carries_the_credential_and_keeps_the_owners_headers() -> None:
    owner = Owner()
    router = routing("http://10.0.0.2:8081", owner)
    request = routed_request(Authorization="Bearer tf_a_b", Host="evil", Cookie="c")
    answer = await router.route_req("sla_state", "t", Web(), request)
    assert owner.sent["url"] == URL("http://10.0.0.2:8081/v1/tickets/t/sla")
    assert owner.sent["headers"] == {"authorization": "Bearer tf_a_b", ROUTED_HEADER: "1"}
    assert owner.sent["timeout"].total == 2.0
    assert (answer.status, answer.content_type) == (429, "application/problem+json")
    assert answer.headers == {"retry-after": "3", "www-authenticate": "Bearer"}


async def test_a_request_is_forwarded_once_and_an_unreachable_owner_is_503() -> None:
    here = routing("http://10.0.0.1:8081", Owner())
    with pytest.raises(SameNode):
        await here.route_req("sla_state", "t", Web(), routed_request(**{ROUTED_HEADER: "1"}))
    elsewhere = routing("http://10.0.0.2:8081", Owner())
    bounced = await elsewhere.route_req(
        "sla_state", "t", Web(), routed_request(**{ROUTED_HEADER: "1"})
    )
    assert bounced.status == 503 and bounced.headers["Retry-After"] == "1"
    assert elsewhere.app.http_client.sent == {}
    down = routing("http://10.0.0.2:8081", Owner(fail=True))
    assert (await down.route_req("sla_state", "t", Web(), routed_request())).status == 503
