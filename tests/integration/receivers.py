"""Real receivers for notify tests: an SMTP server (aiosmtpd) that keeps what it accepts, and
an HTTP server whose answers a test scripts (e.g. fail twice, then succeed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from services.devstack.processes import free_port


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Message]]]:
    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler.messages
    finally:
        controller.stop()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class HttpReceiver:
    url: str
    script: list[int] = field(default_factory=list)
    """Status codes to answer in order; 200 once it runs out."""
    requests: list[Received] = field(default_factory=list)
    delay_s: float = 0.0
    """How long each answer takes (a slow receiver)."""
    started: threading.Event = field(default_factory=threading.Event)
    """Set when the first request arrived."""

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]


@contextmanager
def http_receiver(
    script: list[int] | None = None, *, delay_s: float = 0.0
) -> Iterator[HttpReceiver]:
    """A receiver on loopback; a 3xx answer redirects to the receiver's `/moved`."""
    port = free_port()
    receiver = HttpReceiver(f"http://127.0.0.1:{port}/hook", list(script or []), delay_s=delay_s)
    lock = threading.Lock()
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = receiver.script.pop(0) if receiver.script else 200
                receiver.requests.append(Received(dict(self.headers.items()), body, status))
            receiver.started.set()
            if stopping.wait(receiver.delay_s):
                return
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"http://127.0.0.1:{port}/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
