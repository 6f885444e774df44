"""The server side of the HTTP limits (`services/common/serving.py`) through a real uvicorn
server on a socket: slow clients are cut off with 408, oversized headers are a 400 naming the
header, whatever the server answers itself is problem+json, and ordinary requests (keep-alive,
bodies) still work. The app is intake's, without a database."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn

from services.common.api_keys import ApiKey
from services.common.http_settings import HttpSettings
from services.common.serving import server_config
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.deps import IntakeDeps

LIMITS = HttpSettings(
    header_timeout_seconds=1.0,
    body_timeout_seconds=1.0,
    keep_alive_seconds=1,
    max_header_bytes=1_024,
    max_head_bytes=4_096,
    max_body_bytes=2_048,
)
TOKEN = b"Authorization: Bearer tf_k1_secret\r\n"


class Keys:
    async def authenticate(self, presented: str) -> ApiKey:
        return ApiKey("k1", frozenset({"acme"}))


class NoTickets:
    async def list_tickets(self, *args: Any) -> list[Any]:
        return []


async def ready() -> dict[str, bool]:
    return {"database": True, "broker": True}


def app() -> Any:
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
    return create_app(deps, http=LIMITS)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    server = uvicorn.Server(server_config(app(), "127.0.0.1", free, LIMITS, lifespan="off"))
    running = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield free
    finally:
        server.should_exit = True
        await running


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names), body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await reader.read(1) == b""
    except ConnectionResetError:
        return True


def problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict[str, Any]:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = json.loads(body)
    assert found["status"] == expected
    return found


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    for index in range(len(data)):
        writer.write(data[index : index + 1])
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


# --- slow clients ----------------------------------------------------------------------------


async def test_headers_sent_one_byte_at_a_time_are_cut_off_with_a_408(port: int) -> None:
    reader, writer = await connect(port)
    began = time.monotonic()
    sender = asyncio.create_task(
        trickle(writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200, 0.1)
    )
    async with asyncio.timeout(5):
        found = problem(*await response(reader), 408)
        assert await closed(reader)
    assert 0.9 < time.monotonic() - began < 3
    assert found["title"] == "Request timeout"
    sender.cancel()
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    port: int,
) -> None:
    reader, writer = await connect(port)
    async with asyncio.timeout(5):
        problem(*await response(reader), 408)
        assert await closed(reader)
    writer.close()


async def test_a_body_sent_slowly_is_cut_off_with_a_408(port: int) -> None:
    reader, writer = await connect(port)
    head = (
        f"POST /v1/tickets/{uuid.uuid4()}/events HTTP/1.1\r\nHost: x\r\n".encode()
        + TOKEN
        + b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    )
    writer.write(head + b'{"type": "ticket.comment_added", "data": {"body": "')
    began = time.monotonic()
    sender = asyncio.create_task(trickle(writer, b"x" * 200, 0.1))
    async with asyncio.timeout(5):
        problem(*await response(reader), 408)
        assert await closed(reader)
    assert time.monotonic() - began < 3
    sender.cancel()
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(port: int) -> None:
    reader, writer = await connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(5):
        status, _, _ = await response(reader)
        assert status == 200
        assert await closed(reader)
    writer.close()


# --- header sizes ----------------------------------------------------------------------------


async def test_a_header_over_the_limit_is_a_400_naming_it_but_not_its_value(port: int) -> None:
    reader, writer = await connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"s3cr3t" * 200 + b"\r\n\r\n")
    async with asyncio.timeout(5):
        status, headers, body = await response(reader)
        found = problem(status, headers, body, 400)
        assert await closed(reader)
    assert (found["header"], found["limit_bytes"]) == ("X-Big", 1_024)
    assert b"s3cr3t" not in body
    writer.close()


async def test_headers_together_over_the_limit_are_a_400(port: int) -> None:
    reader, writer = await connect(port)
    many = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 500) for n in range(10))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    async with asyncio.timeout(5):
        found = problem(*await response(reader), 400)
    assert found["title"] == "Request headers too large"
    writer.close()


async def test_a_header_that_never_ends_is_refused_before_it_is_all_read(port: int) -> None:
    """httptools buffers a header value until it ends: the server stops reading first."""
    reader, writer = await connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    sent = 0

    async def endless() -> None:
        nonlocal sent
        while sent < 64_000_000:
            writer.write(b"v" * 4_096)
            await writer.drain()
            sent += 4_096

    sender = asyncio.create_task(endless())
    async with asyncio.timeout(10):
        found = problem(*await response(reader), 400)
    assert found["title"] == "Request headers too large"
    assert sent < 64_000_000
    sender.cancel()
    writer.close()


async def test_a_request_the_parser_cannot_read_is_a_problem_json_400(port: int) -> None:
    reader, writer = await connect(port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    async with asyncio.timeout(5):
        found = problem(*await response(reader), 400)
    assert found["title"] == "Invalid HTTP request"
    writer.close()


# --- ordinary requests still work ------------------------------------------------------------


async def test_keep_alive_requests_and_bodies_within_the_limits_work(port: int) -> None:
    reader, writer = await connect(port)
    async with asyncio.timeout(5):
        for _ in range(3):
            writer.write(b"GET /v1/tickets HTTP/1.1\r\nHost: x\r\n" + TOKEN + b"\r\n")
            status, _, body = await response(reader)
            assert status == 200, body
        body = b'{"type": "ticket.nope", "data": {}}'
        writer.write(
            f"POST /v1/tickets/{uuid.uuid4()}/events HTTP/1.1\r\nHost: x\r\n".encode()
            + TOKEN
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )
        status, _, answer = await response(reader)
        assert status == 422, answer  # read, parsed and judged by the app
    writer.close()


async def test_a_body_over_the_limit_is_a_413_through_the_server(port: int) -> None:
    reader, writer = await connect(port)
    writer.write(
        f"POST /v1/tickets/{uuid.uuid4()}/events HTTP/1.1\r\nHost: x\r\n".encode()
        + TOKEN
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    async with asyncio.timeout(5):
        for _ in range(3):
            writer.write(b"400\r\n" + b"x" * 1_024 + b"\r\n")
        found = problem(*await response(reader), 413)
    assert found["limit_bytes"] == 2_048
    writer.close()
