"""The log context of an HTTP request: lines logged while it is handled carry the ticket its
path names (`/v1/tickets/{id}...`) and the trace its `traceparent` header names (the server
span's when tracing exports; see `services.common.logs`). A pure ASGI middleware, so it
costs one regex match a request."""

from __future__ import annotations

import re
from typing import Any

from services.common import logs

_TICKET = re.compile(r"^/v1/tickets/([^/]+)")


class RequestLogContext:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = _TICKET.match(scope.get("path", ""))
        traceparent = next(
            (value.decode("latin-1") for key, value in scope["headers"] if key == b"traceparent"),
            None,
        )
        with logs.about(ticket_id=found.group(1) if found else None, traceparent=traceparent):
            await self.app(scope, receive, send)
