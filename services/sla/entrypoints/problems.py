"""RFC 9457 problem details (`application/problem+json`) for every error the SLA API
returns, as aiohttp responses (the Faust web driver's own type)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> web.Response:
    title = title or TITLES.get(status, "HTTP error")
    body: dict[str, object] = {
        "type": f"https://ticketflow.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type=PROBLEM,
        headers=dict(headers or {}),
    )
