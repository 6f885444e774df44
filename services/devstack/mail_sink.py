"""A local SMTP sink for `ticketflow dev` (aiosmtpd): notify's emails land in VAR/mail/*.eml
and are listed, newest last, in dev-stack.json under `mail.messages`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from services.devstack.processes import free_port

Listener = Callable[[list[dict[str, Any]]], None]


class _Sink:
    def __init__(self, folder: Path, listener: Listener) -> None:
        self._folder = folder
        self._listener = listener
        self._lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            path = self._folder / f"{len(self.messages) + 1:05d}.eml"
            path.write_bytes(envelope.content)
            self.messages.append(
                {
                    "received_at": datetime.now(UTC).isoformat(),
                    "to": list(envelope.rcpt_tos),
                    "subject": str(message.get("Subject", "")).strip(),
                    "notification": message.get("X-Ticketflow-Notification"),
                    "file": str(path),
                }
            )
            snapshot = list(self.messages)
        self._listener(snapshot)
        return "250 stored"


@contextmanager
def mail_sink(folder: Path, listener: Listener) -> Iterator[int]:
    """Run the sink on a free 127.0.0.1 port (yielded) until the block ends."""
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    controller = Controller(_Sink(folder, listener), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
