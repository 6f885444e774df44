"""Serving an API with uvicorn, bounded against slow and oversized clients.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but has no deadline for a
request that arrives slowly: a client that sends one header byte every few seconds keeps its
connection, and the parser (httptools) buffers a header value of any length. `serve` runs
uvicorn with `GuardedHttpToolsProtocol`, which adds:

- a header deadline: a request's line and headers must be complete `header_timeout_seconds`
  after its first byte (or after the connection opened), else 408;
- a body deadline: its body must be complete `body_timeout_seconds` after its headers, else
  408 (the app, waiting in `receive`, sees the client disconnect);
- header sizes: one header over `max_header_bytes`, or the request line and headers together
  over `max_head_bytes`, is a 400 naming the header (never its value); a head that keeps
  coming past the limit is refused before the parser buffers more of it;
- every error the server itself answers (these, and requests the parser cannot read) is
  `application/problem+json`, like the app's own errors.

Run every API through `serve(app, host, port, settings)`; `settings` is the service's
settings (it inherits `HttpSettings`)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from services.common.http_settings import HttpSettings
from services.common.problems import PROBLEM, Problem

STARTUP_FAILURE = 3
"""uvicorn's exit status when the app's lifespan startup fails."""


class LimitedConfig(uvicorn.Config):
    """uvicorn's config plus the limits (it is pickled to worker processes with them)."""

    def __init__(self, app: Any, *, limits: HttpSettings, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits


class _Refused(Exception):
    """Stops the parser (httptools turns it into HttpParserCallbackError)."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: HttpSettings = getattr(config, "limits", None) or HttpSettings()
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_received = 0
        self._head_bytes = 0
        self._refusal: Problem | None = None
        self._done = False

    # --- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self._in_head:
            if self._head_received > self.limits.max_head_bytes:
                self._answer(self._head_too_large())
                return
            self._head_received += len(data)
        super().data_received(data)

    # --- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout_seconds, "headers")

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4  # ": " and CRLF
        if size > self.limits.max_header_bytes:
            header = name.decode("latin-1")[:64]
            self._refuse(
                Problem(
                    400,
                    "Request header too large",
                    f"the {header} header is {size} bytes long; the limit is "
                    f"{self.limits.max_header_bytes}",
                    header=header,
                    limit_bytes=self.limits.max_header_bytes,
                )
            )
        self._count(size)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        self._arm(self.limits.body_timeout_seconds, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_received = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """What uvicorn answers a request it cannot parse, as problem+json."""
        refusal = self._refusal or Problem(400, "Invalid HTTP request", msg.rstrip("."))
        self._answer(refusal)

    # --- limits -------------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_head_bytes:
            self._refuse(self._head_too_large())

    def _head_too_large(self) -> Problem:
        return Problem(
            400,
            "Request headers too large",
            f"the request line and headers are over the limit of {self.limits.max_head_bytes} "
            "bytes",
            limit_bytes=self.limits.max_head_bytes,
        )

    def _refuse(self, problem: Problem) -> None:
        self._refusal = problem
        raise _Refused(problem.title)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self, what: str, seconds: float) -> None:
        self._deadline = None
        cycle = self.cycle
        answered = cycle is None or cycle.response_complete
        if what == "body" and answered:
            # the app answered without reading the rest: nothing to tell the client
            self._done = True
            self.transport.close()
            return
        if not answered:
            # the app is handling this request: tell it the client is gone, and answer for
            # it unless it has started its own response
            assert cycle is not None
            started = cycle.response_started
            cycle.disconnected = True
            cycle.message_event.set()
            if started:
                self._done = True
                self.transport.close()
                return
        self._answer(
            Problem(
                408,
                "Request timeout",
                f"the request {what} did not arrive within {seconds:g} s",
                timeout_seconds=seconds,
            )
        )

    def _answer(self, problem: Problem) -> None:
        """Write `problem` and close the connection (nothing else is read from it)."""
        self._disarm()
        self._done = True
        if self.transport.is_closing():
            return
        path = self.scope.get("path", "/") if self.scope else "/"
        body = json.dumps(problem.body(path)).encode()
        content = [STATUS_LINE[problem.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: " + PROBLEM.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def server_config(
    app: Any, host: str, port: int, settings: HttpSettings, **uvicorn_options: Any
) -> LimitedConfig:
    """The uvicorn config `serve` runs (tests start a `uvicorn.Server` with it)."""
    limits = HttpSettings.model_validate(
        settings.model_dump(include=set(HttpSettings.model_fields))
    )
    # log_config None: uvicorn's loggers propagate to the root one, in the service's format
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "log_config": None,
        **uvicorn_options,
    }
    return LimitedConfig(
        app,
        limits=limits,
        host=host,
        port=port,
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=limits.keep_alive_seconds,
        **options,
    )


def serve(app: Any, host: str, port: int, settings: HttpSettings, **uvicorn_options: Any) -> None:
    """Serve `app` (an ASGI app, or an import string with `factory=True, workers=N`) until
    SIGINT/SIGTERM; exit with status 3 when the app fails to start (as `uvicorn.run`)."""
    config = server_config(app, host, port, settings, **uvicorn_options)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
