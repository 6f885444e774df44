"""The context an HTTP request is handled in, as a pure ASGI middleware (one header scan and
one regex match a request):

- **its trace**: a server span continuing the `traceparent` the client sent, named by the
  route (`POST /v1/tickets`), when tracing exports (`services.common.tracing`); when it does
  not, the client's context is made current all the same, so what the request writes (the
  event store's records) carries it on. The SDK's sampler decides per trace; an unsampled
  request costs a non-recording span.
- **its log context**: lines logged while it is handled carry the ticket its path names
  (`/v1/tickets/{id}...`) and its trace id (`services.common.logs`).

Used instead of FastAPI's own request telemetry, which costs several times as much per
request (its attributes and wrappers run whether the request is sampled or not)."""

from __future__ import annotations

import re
from typing import Any

from services.common import logs, tracing

_TICKET = re.compile(r"^/v1/tickets/([^/\s]{1,100})")


class RequestContext:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = tracestate = None
        for key, value in scope["headers"]:
            if key == b"traceparent":
                traceparent = value.decode("latin-1")
            elif key == b"tracestate":
                tracestate = value.decode("latin-1")
        path = scope.get("path", "")
        found = _TICKET.match(path)
        with logs.about(ticket_id=found.group(1) if found else None, traceparent=traceparent):
            parent = tracing.context_of(traceparent, tracestate)
            if parent is None and not tracing.enabled():
                await self.app(scope, receive, send)
                return
            await self._in_span(scope, receive, send, parent)

    async def _in_span(self, scope: Any, receive: Any, send: Any, parent: Any) -> None:
        method = scope.get("method", "")
        with tracing.span(method, parent=parent, kind=tracing.SpanKind.SERVER) as span:
            if not span.is_recording():
                await self.app(scope, receive, send)
                return

            async def sent(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        tracing.failed(span, f"HTTP {status}")
                await send(message)

            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", scope.get("path", ""))
            try:
                await self.app(scope, receive, sent)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
