"""The health of a service's background tasks, as `/readyz` reports it.

Each supervised task has a `TaskHealth`: alive or not, when it last showed progress (a
heartbeat), its last error and how often it was restarted. A task's own loop reports through
the module functions `beat()`, `failing()` and `recovered()`, which find the running task's
record in a context variable (set by the supervisor), so loops keep their signatures and do
nothing extra when they run unsupervised (in tests, benchmarks)."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import Counter, Gauge

TASK_UP = Gauge("ticketflow_task_up", "1 while a background task runs without failing", ["task"])
TASK_RESTARTS = Counter(
    "ticketflow_task_restarts_total", "Background task restarts after a crash", ["task"]
)

State = Literal["starting", "running", "failing", "restarting", "stopped"]


@dataclass
class TaskHealth:
    name: str
    now: Callable[[], float] = field(default=time.monotonic, repr=False)
    state: State = "starting"
    started_at: float | None = None
    last_beat: float | None = None
    last_error: str | None = None
    failing_since: float | None = None
    restarts: int = 0

    def started(self) -> None:
        self.state = "running"
        self.started_at = self.last_beat = self.now()
        TASK_UP.labels(self.name).set(1)

    def beat(self) -> None:
        self.last_beat = self.now()

    def failing(self, error: BaseException) -> bool:
        """The task's work fails and it retries; True when it was healthy until now."""
        self.beat()
        self.last_error = describe(error)
        if self.state == "failing":
            return False
        self.state = "failing"
        self.failing_since = self.last_beat
        TASK_UP.labels(self.name).set(0)
        return True

    def recovered(self) -> float | None:
        """The task's work succeeds again; how long it failed (None if it was not failing)."""
        self.beat()
        if self.state != "failing":
            return None
        since = self.failing_since if self.failing_since is not None else self.now()
        self.state = "running"
        self.failing_since = None
        TASK_UP.labels(self.name).set(1)
        return self.now() - since

    def crashed(self, error: BaseException) -> None:
        self.state = "restarting"
        self.last_error = describe(error)
        TASK_UP.labels(self.name).set(0)

    def restarting(self) -> None:
        self.restarts += 1
        TASK_RESTARTS.labels(self.name).inc()

    def stopped(self) -> None:
        self.state = "stopped"
        TASK_UP.labels(self.name).set(0)

    def problem(self, stuck_after: float) -> str | None:
        """Why this task makes the service not ready: dead, failing or stuck (no heartbeat
        for `stuck_after` seconds while it should be running)."""
        if self.state in ("restarting", "stopped"):
            return "dead"
        if self.state == "failing":
            return "failing"
        if self.last_beat is not None and self.now() - self.last_beat > stuck_after:
            return "stuck"
        return None

    def report(self, stuck_after: float) -> dict[str, Any]:
        now = self.now()
        return {
            "state": self.state,
            "alive": self.state in ("running", "failing"),
            "problem": self.problem(stuck_after),
            "seconds_since_heartbeat": (
                round(now - self.last_beat, 3) if self.last_beat is not None else None
            ),
            "last_error": self.last_error,
            "restarts": self.restarts,
        }


@dataclass
class TaskRegistry:
    """Every supervised task of one runtime, by name."""

    stuck_after: float = 60.0
    now: Callable[[], float] = field(default=time.monotonic, repr=False)
    tasks: dict[str, TaskHealth] = field(default_factory=dict)

    def register(self, name: str) -> TaskHealth:
        if name in self.tasks:
            raise ValueError(f"a task named {name!r} is already registered")
        health = TaskHealth(name, self.now)
        self.tasks[name] = health
        return health

    def unhealthy(self) -> dict[str, str]:
        """Task name -> problem, for the tasks that have one."""
        found = {name: task.problem(self.stuck_after) for name, task in self.tasks.items()}
        return {name: problem for name, problem in found.items() if problem is not None}

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: task.report(self.stuck_after) for name, task in self.tasks.items()}


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_current: contextvars.ContextVar[TaskHealth | None] = contextvars.ContextVar(
    "ticketflow_task_health", default=None
)


def attach(health: TaskHealth) -> None:
    """Make `health` the record that `beat()` and friends update in this task."""
    _current.set(health)


def current() -> TaskHealth | None:
    return _current.get()


def beat() -> None:
    """The running task made progress (or completed a wait it was meant to do)."""
    health = _current.get()
    if health is not None:
        health.beat()
