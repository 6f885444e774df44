"""A small pool of template worker processes (`render_worker`), so that a runaway template
never runs on the event loop and can always be stopped.

Workers start lazily, as fresh interpreters (`python -m`, like the `spawn` start method: safe
beside asyncio and threads) with only PATH and PYTHONPATH in their environment (no database
URL, token or SMTP password for a sandbox escape to read) and no inherited descriptors. A worker
that misses its wall-clock deadline, dies, or whose caller is cancelled mid-job is killed and
replaced by a new one at the next job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

WORKER_MODULE = "services.notify.adapters.render_worker"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
REPLY_LIMIT = 32 * 1024 * 1024
"""Largest protocol line (JSON-escaped body of the biggest allowed output)."""


class WorkerTimeout(Exception):
    """The worker did not answer by its deadline (it was killed)."""


class WorkerFailed(Exception):
    """The worker could not be started, or died during a job."""


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(job).encode("ascii") + b"\n")
            await asyncio.wait_for(stdin.drain(), timeout_s)
            line = await asyncio.wait_for(stdout.readline(), timeout_s)
        except TimeoutError:
            raise WorkerTimeout from None
        except (OSError, ValueError) as exc:
            raise WorkerFailed(f"template worker failed: {type(exc).__name__}") from None
        if not line.endswith(b"\n"):
            raise WorkerFailed("template worker exited during a job")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise WorkerFailed("template worker answered something else than a reply")
        return reply

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()

    async def close(self, grace_s: float) -> None:
        """End of input: the worker exits by itself; killed if it does not within `grace_s`."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), grace_s)
        except TimeoutError:
            await self.kill()


class WorkerPool:
    def __init__(
        self,
        workers: int = 2,
        *,
        memory_mb: int = 256,
        start_timeout_s: float = 30.0,
        python: str = sys.executable,
    ) -> None:
        if workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._size = workers
        self._memory_mb = memory_mb
        self._start_timeout_s = start_timeout_s
        self._python = python
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.started = 0
        """Workers started so far (replacements included)."""

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers running now (idle or busy)."""
        return sorted(worker.process.pid for worker in (*self._idle, *self._busy))

    async def run(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one job to an idle worker (starting one if none is idle) and return its reply."""
        if self._closed:
            raise WorkerFailed("the template worker pool is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self._start()
            self._busy.add(worker)
            reusable = False
            try:
                reply = await worker.ask(job, timeout_s)
                reusable = True
                return reply
            finally:
                self._busy.discard(worker)
                if reusable and not self._closed:
                    self._idle.append(worker)
                else:
                    await worker.kill()

    async def _start(self) -> _Worker:
        pythonpath = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
        )
        try:
            process = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                WORKER_MODULE,
                str(self._memory_mb),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": pythonpath},
                cwd=PROJECT_ROOT,
                limit=REPLY_LIMIT,
            )
        except OSError as exc:
            raise WorkerFailed(f"template worker could not start: {exc}") from None
        worker = _Worker(process)
        self.started += 1
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), self._start_timeout_s)
            if json.loads(ready or b"{}").get("ready") is not True:
                raise ValueError(ready)
        except BaseException as exc:
            await worker.kill()
            if isinstance(exc, Exception):
                raise WorkerFailed("template worker did not start") from None
            raise
        return worker

    async def aclose(self, grace_s: float = 2.0) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed."""
        self._closed = True
        idle, self._idle = self._idle, []
        busy = list(self._busy)
        await asyncio.gather(
            *(worker.close(grace_s) for worker in idle), *(worker.kill() for worker in busy)
        )
