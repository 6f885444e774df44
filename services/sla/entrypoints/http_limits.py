"""Bounds on every request to the SLA worker's HTTP server, applied before any view runs.

aiohttp itself (configured through Faust's `web_application_options`) refuses, with a plain
400, a request line or a header field over twice `max_header_bytes` and more than
`MAX_HEADERS` headers, and closes a connection idle (or still sending its request line and
headers) for `keep_alive_seconds`. The middleware below answers what gets past those with
`application/problem+json`: a header over `max_header_bytes` (400), a declared body over
`max_body_bytes` or a body of unknown length (413; the API is read-only, nothing reads
bodies), and aiohttp's own 404/405 (unknown paths, other methods).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from services.sla.entrypoints.problems import problem
from services.sla.settings import SlaSettings

log = logging.getLogger("ticketflow.sla")

MAX_HEADERS = 64
SERVER_LOG = "ticketflow.sla.http"


class WithoutRequestBytes(logging.Filter):
    """aiohttp logs a request it cannot parse with the parser's message, which quotes up to
    100 bytes of the offending line: a header value, perhaps a credential. Keep the type of
    the error only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def server_logger() -> logging.Logger:
    """The logger of aiohttp's request handler, which never logs request bytes."""
    logger = logging.getLogger(SERVER_LOG)
    if not any(isinstance(f, WithoutRequestBytes) for f in logger.filters):
        logger.addFilter(WithoutRequestBytes())
    return logger


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def oversized_header(request: web.Request, limit: int) -> tuple[str, int] | None:
    """The first header longer than `limit` bytes (name, ": ", value and CRLF, as the
    FastAPI services count it) and its size."""
    for name, value in request.raw_headers:
        size = len(name) + len(value) + 4
        if size > limit:
            return name.decode("latin-1")[:64], size
    return None


def bounded_requests(max_body_bytes: int, max_header_bytes: int) -> Any:
    @web.middleware
    async def bounded(request: web.Request, handler: Handler) -> web.StreamResponse:
        oversized = oversized_header(request, max_header_bytes)
        if oversized is not None:
            name, size = oversized
            return problem(
                400,
                f"the {name} header is {size} bytes long; the limit is {max_header_bytes}",
                title="Request header too large",
                instance=request.path,
                header=name,
                limit_bytes=max_header_bytes,
            )
        length = request.content_length
        if (length is None and request.body_exists) or (length or 0) > max_body_bytes:
            refused = problem(
                413,
                f"this API is read-only: send no body (a declared length of at most "
                f"{max_body_bytes} bytes is ignored, a chunked one refused)",
                instance=request.path,
                limit_bytes=max_body_bytes,
            )
            refused.force_close()  # rather than draining the body
            return refused
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return problem(exc.status, exc.reason, instance=request.path)
        except Exception:
            log.exception("unhandled error serving %s %s", request.method, request.path)
            return problem(500, "the SLA service failed to answer", instance=request.path)

    return bounded


def application_options(settings: SlaSettings) -> dict[str, Any]:
    """Faust's `web_application_options`: keyword arguments of the aiohttp Application."""
    parser_limit = 2 * settings.max_header_bytes
    return {
        "client_max_size": max(settings.max_body_bytes, 1),
        "handler_args": {
            "max_line_size": parser_limit,
            "max_field_size": parser_limit,
            "max_headers": MAX_HEADERS,
            "keepalive_timeout": settings.keep_alive_seconds,
            "logger": server_logger(),
        },
        "middlewares": [bounded_requests(settings.max_body_bytes, settings.max_header_bytes)],
    }
