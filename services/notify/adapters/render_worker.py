"""A worker process for account templates (`python -m services.notify.adapters.render_worker
MEMORY_MB`), started by `render_pool` with a minimal environment and no inherited descriptors.

Protocol: one JSON object per line. The worker prints `{"ready": true}` once imported, then
answers each job `{"subject", "body", "context", "strict", "budget_s", "subject_chars",
"body_chars"}` with `{"subject", "body"}` or `{"failure": {"part", "reason", "message", "line"}}`.
A job gets `budget_s` of CPU time (ITIMER_PROF: a busy machine does not eat the budget); the
process's address space is capped at MEMORY_MB. What the timer cannot interrupt (one long C
call) the pool's wall-clock deadline ends by killing the process."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import IO, Any

from services.notify.adapters.render_sandbox import RenderFailure, render_template, sandbox


class BudgetExceeded(BaseException):
    """Raised by the CPU timer's signal handler; a BaseException so that no `except Exception`
    in Jinja or in template-called code can swallow it."""


class _Budget:
    def __init__(self) -> None:
        self.armed = False
        self.part = "template"
        signal.signal(signal.SIGPROF, self._expired)

    def _expired(self, signum: int, frame: Any) -> None:
        if self.armed:
            self.armed = False
            raise BudgetExceeded

    def start(self, seconds: float) -> None:
        self.part = "template"
        self.armed = True
        signal.setitimer(signal.ITIMER_PROF, seconds)

    def stop(self) -> None:
        self.armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)

    def entering(self, part: str) -> None:
        self.part = part


def _failure(failure: RenderFailure) -> dict[str, Any]:
    return {
        "failure": {
            "part": failure.part,
            "reason": failure.reason,
            "message": failure.message,
            "line": failure.line,
        }
    }


def run_job(job: dict[str, Any], budget: _Budget, envs: dict[bool, Any]) -> dict[str, Any]:
    seconds = float(job["budget_s"])
    try:
        budget.start(seconds)
        try:
            subject, body = render_template(
                envs[bool(job["strict"])],
                job["subject"],
                job["body"],
                job["context"],
                subject_chars=int(job["subject_chars"]),
                body_chars=int(job["body_chars"]),
                on_part=budget.entering,
            )
        finally:
            budget.stop()
    except BudgetExceeded:
        message = f"exceeded the {float(seconds)} s time budget"
        return _failure(RenderFailure(budget.part, "time_budget", message))
    except RenderFailure as failure:
        return _failure(failure)
    return {"subject": subject, "body": body}


def _limit_memory(megabytes: int) -> None:
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _send(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode("ascii") + b"\n")
    out.flush()


def main(argv: list[str]) -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by accident goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    _limit_memory(int(argv[1]) if len(argv) > 1 else 0)
    envs = {True: sandbox(strict=True), False: sandbox(strict=False)}
    budget = _Budget()
    _send(out, {"ready": True})
    for line in sys.stdin.buffer:
        _send(out, run_job(json.loads(line), budget, envs))


if __name__ == "__main__":
    main(sys.argv)
