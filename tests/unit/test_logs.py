"""Logs: JSON lines in production, readable ones in dev; every line logged while a ticket's
record or request is handled names its ticket, event and trace; no secret reaches a line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common import logs
from services.common.consumer import ConsumerLoop
from services.common.request_context import RequestContext

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
log = logging.getLogger("ticketflow.test")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Root logs as JSON lines of service `svc` into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter("svc"))
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def parsed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_inside_about_names_the_ticket_event_and_trace(lines: io.StringIO) -> None:
    with logs.about(ticket_id="t-1", event_id="e-1", traceparent=TRACEPARENT):
        log.info("applied %s", "ticket.opened")
    log.info("idle")

    inside, outside = parsed(lines)
    assert inside["message"] == "applied ticket.opened"
    assert (inside["service"], inside["level"], inside["logger"]) == ("svc", "info", log.name)
    assert (inside["ticket_id"], inside["event_id"], inside["trace_id"]) == ("t-1", "e-1", TRACE)
    assert inside["time"].endswith("+00:00")
    assert "ticket_id" not in outside and "trace_id" not in outside


def test_secrets_never_reach_a_line(lines: io.StringIO) -> None:
    key = "tf_live_9f8e7d6c5b4a3f2e1d0c"
    try:
        raise RuntimeError(f"refused postgresql://app:hunter2secret@db:5432/x with {key}")
    except RuntimeError:
        log.exception("Authorization: Bearer abcdefghijklmnop, password=swordfish %s", key)

    (line,) = parsed(lines)
    text = json.dumps(line)
    for secret in (key, "hunter2secret", "abcdefghijklmnop", "swordfish"):
        assert secret not in text
    assert "postgresql://app:***@db:5432/x" in line["error"]
    assert "Bearer ***" in line["message"] and "password=***" in line["message"]


@pytest.mark.parametrize(
    ("environ", "json_logs"),
    [
        ({}, False),
        ({"TICKETFLOW_ENVIRONMENT": "production"}, True),
        ({"TICKETFLOW_ENVIRONMENT": "production", "TICKETFLOW_LOG_FORMAT": "text"}, False),
        ({"TICKETFLOW_LOG_FORMAT": "JSON"}, True),
    ],
)
def test_json_in_production_readable_otherwise(environ: dict[str, str], json_logs: bool) -> None:
    assert logs.json_wanted(environ) is json_logs


def test_the_readable_line_ends_with_the_ids() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent", None, None)
    with logs.about(ticket_id="t-9", traceparent=TRACEPARENT):
        text = logs.ReadableFormatter("notify").format(record)
    assert text.endswith(f"x: sent [notify ticket_id=t-9 trace_id={TRACE}]")


class Message:
    topic, partition, offset, key, value = "ticketflow.sla-events", 0, 7, b"t-2", b"{}"
    headers = [("ce_subject", b"t-2"), ("ce_id", b"e-2"), ("ce_traceparent", TRACEPARENT.encode())]


async def test_a_consumer_handling_a_record_logs_its_ids(lines: io.StringIO) -> None:
    async def handle(message: Any) -> str:
        await asyncio.sleep(0)
        log.warning("paged level 1")
        return "applied"

    loop = ConsumerLoop("escalation", None, None, handle)

    assert await loop.handle_one(Message(), asyncio.Event()) == "applied"
    (line,) = parsed(lines)
    assert (line["ticket_id"], line["event_id"], line["trace_id"]) == ("t-2", "e-2", TRACE)


async def test_a_request_on_a_ticket_logs_its_id_and_trace(lines: io.StringIO) -> None:
    app = FastAPI()
    app.add_middleware(RequestContext)

    @app.post("/v1/tickets/{ticket_id}/events")
    async def append(ticket_id: str) -> dict[str, str]:
        log.info("appended")
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        sent = await client.post("/v1/tickets/t-3/events", headers={"traceparent": TRACEPARENT})

    assert sent.status_code == 200
    (line,) = [line for line in parsed(lines) if line["logger"] == log.name]
    assert (line["ticket_id"], line["trace_id"]) == ("t-3", TRACE)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("DB_PASSWORD=hunter2", "hunter2"),
        ("client_secret=abc123 then", "abc123"),
        ("access_token=xyz", "xyz"),
        ('{"password": "hunter2"}', "hunter2"),
        ("password: hunter2", "hunter2"),
        ("redis://:s3cret@localhost:6379/0", "s3cret"),
        ("postgresql://app:p@ss@db:5432/x", "p@ss"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ],
)
def test_every_usual_shape_of_a_secret_is_scrubbed(text: str, secret: str) -> None:
    assert secret not in logs.scrub(text)


def test_what_is_not_a_secret_stays() -> None:
    for text in ("https://example.com:8443/v1/tickets/t-1", "12 tokens of ticket t-1"):
        assert logs.scrub(text) == text
