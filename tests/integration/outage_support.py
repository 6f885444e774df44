"""A private PostgreSQL that tests crash and bring back (the session-wide one in
tests/conftest.py is never stopped), small helpers to read the real broker, and an HTTP
receiver that holds a request while a test breaks something."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.devstack.postgres import EmbeddedPostgres
from services.devstack.processes import free_port


@dataclass
class CrashablePostgres:
    """An embedded PostgreSQL cluster of one test module, on a fixed port across restarts."""

    server: EmbeddedPostgres
    down: bool = False

    @property
    def url(self) -> str:
        return self.server.url

    async def crash(self) -> None:
        """Stop the server at once, as `pg_ctl stop -m immediate` does (SIGQUIT to the
        postmaster: no checkpoint, every connection cut; crash recovery at next start)."""
        pid = self.server.pid
        assert pid is not None, "the server is not running"
        os.kill(pid, signal.SIGQUIT)
        await asyncio.to_thread(os.waitpid, pid, 0)
        self.down = True

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)
        self.down = False


async def eventually(
    condition: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.1
) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await condition():
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:.0f}s: {what}") from None


async def commit_group_at_end(bootstrap: str, group_id: str, topics: list[str]) -> None:
    """Make `group_id` start at the current end of `topics` (not at the session's history)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata partitions_for_topic reads
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def read_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[tuple[bytes, bytes]]], bool],
    *,
    timeout: float = 30.0,
    linger_s: float = 1.0,
) -> list[tuple[bytes, bytes]]:
    """(key, value) of `topic` from its beginning, until `done(records)` holds, then for
    `linger_s` more (so duplicates that follow show up too)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[tuple[bytes, bytes]] = []
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        finished_at: float | None = None
        while loop.time() < (finished_at if finished_at is not None else deadline):
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                records.extend((m.key or b"", m.value or b"") for m in messages)
            if finished_at is None and done(records):
                finished_at = loop.time() + linger_s
        return records
    finally:
        await consumer.stop()


@dataclass
class HeldReceiver:
    """An HTTP receiver that holds each request until `release` is set, then answers 200."""

    url: str
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    bodies: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def held_receiver() -> Iterator[HeldReceiver]:
    port = free_port()
    receiver = HeldReceiver(f"http://127.0.0.1:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            receiver.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            receiver.arrived.set()
            receiver.release.wait(30)
            self.send_response(200)
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
        receiver.release.set()
        server.shutdown()
        server.server_close()
