"""Keeps the processes of `ticketflow dev` running: a child that dies is restarted with
exponential backoff, said in one line, and counted.

The supervisor is driven by `tick()` from the main thread (no thread of its own: a child's
parent-death signal is tied to the thread that spawned it) and reads time only through the
clocks it is given, so tests drive it with fake children and a fake clock."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from services.devstack.backoff import BackoffPolicy

log = logging.getLogger("ticketflow.dev.supervisor")


class Child(Protocol):
    """A process the supervisor can watch and start again the same way."""

    @property
    def name(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def log(self) -> Path: ...

    def returncode(self) -> int | None:
        """None while it runs; Popen's return code (negative: killed by that signal) after."""
        ...

    def restart(self) -> None:
        """Start it again (same port, same environment, same data); raise if it cannot."""
        ...

    def stop(self) -> None: ...

    def healthy(self) -> bool:
        """Whether it answers its liveness check right now."""
        ...

    def loss_note(self) -> str:
        """What its death costs beyond the downtime ("" when nothing)."""
        ...


def exit_reason(returncode: int) -> dict[str, Any]:
    """`returncode` as dev-stack.json records it: a sentence, the code, the signal's name."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return {"reason": f"killed by {name}", "returncode": returncode, "signal": name}
    return {"reason": f"exited with code {returncode}", "returncode": returncode, "signal": None}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _clock_time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")


@dataclass
class _Watch:
    child: Child
    started_at: float
    streak: int = 0
    restarts: int = 0
    restart_at: float | None = None
    died_at: float | None = None
    awaiting_health: bool = False
    last_exit: dict[str, Any] | None = None
    last_restart_at: str | None = None
    dependents: tuple[str, ...] = field(default_factory=tuple)


class Supervisor:
    """Restarts dead children. `dependents[name]` are restarted after `name` comes back (the
    services after the memory-only broker: their clients hold offsets of the lost one)."""

    def __init__(
        self,
        children: Iterable[Child],
        *,
        out: Callable[[str], None],
        on_change: Callable[[str, dict[str, Any]], None],
        policy: BackoffPolicy | None = None,
        dependents: Mapping[str, Sequence[str]] | None = None,
        stopping: Callable[[], bool] = lambda: False,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utc_now,
        since: float | None = None,
    ) -> None:
        """`since` is when the children were started, on `now` (default: at once)."""
        self._policy = policy or BackoffPolicy()
        self._out = out
        self._on_change = on_change
        self._stopping = stopping
        self._now = now
        self._wall = wall
        started = now() if since is None else since
        after = dependents or {}
        self._watches = {
            child.name: _Watch(child, started, dependents=tuple(after.get(child.name, ())))
            for child in children
        }

    def record(self, name: str) -> dict[str, Any]:
        """What dev-stack.json holds about `name`'s restarts."""
        watch = self._watches[name]
        return {
            "pid": watch.child.pid,
            "restarts": watch.restarts,
            "last_exit": watch.last_exit,
            "last_restart_at": watch.last_restart_at,
        }

    def tick(self) -> None:
        """Notice deaths, run restarts that are due, report children that are healthy again."""
        for watch in self._watches.values():
            if self._stopping():
                return
            if watch.restart_at is None:
                code = watch.child.returncode()
                if code is not None:
                    self._died(watch, code)
                elif watch.awaiting_health and watch.child.healthy():
                    self._healthy_again(watch)
            elif self._now() >= watch.restart_at:
                self._restart(watch)

    def _say(self, line: str) -> None:
        log.info("%s", line)
        self._out(line)

    def _died(self, watch: _Watch, code: int) -> None:
        now = self._now()
        uptime = now - watch.started_at
        watch.streak = self._policy.next_streak(watch.streak, uptime)
        delay = self._policy.delay(watch.streak)
        watch.died_at = now
        watch.restart_at = now + delay
        watch.awaiting_health = False
        died_at = self._wall()
        reason = exit_reason(code)
        watch.last_exit = {**reason, "at": died_at.isoformat(), "uptime_s": round(uptime, 1)}
        child = watch.child
        loss = child.loss_note()
        self._say(
            f"{child.name} died: {reason['reason']} (pid {child.pid}, up {uptime:.1f} s)"
            f"{'; ' + loss if loss else ''}; restarting it in {delay:g} s, at "
            f"{_clock_time(died_at + timedelta(seconds=delay))} (restart "
            f"{watch.restarts + 1}); its log: {child.log}"
        )
        self._on_change(child.name, self.record(child.name))

    def _restart(self, watch: _Watch) -> None:
        child = watch.child
        try:
            child.restart()
        except Exception as exc:  # a failed start is one more death in the streak
            watch.streak += 1
            delay = self._policy.delay(watch.streak)
            watch.restart_at = self._now() + delay
            self._say(f"{child.name} could not be restarted: {exc}; trying again in {delay:g} s")
            return
        watch.restarts += 1
        watch.restart_at = None
        watch.started_at = self._now()
        watch.awaiting_health = True
        watch.last_restart_at = self._wall().isoformat()
        self._say(f"{child.name} restarted (pid {child.pid}, restart {watch.restarts})")
        self._on_change(child.name, self.record(child.name))
        if child.healthy():
            self._healthy_again(watch)
        if watch.dependents:
            self._restart_dependents(child.name, watch.dependents)

    def _restart_dependents(self, cause: str, names: Sequence[str]) -> None:
        """Stop them together, then restart each at once (no backoff: nothing is wrong with
        them). Only waiting happens off the main thread; the restarts spawn from it."""
        watches = [
            watch
            for watch in (self._watches.get(name) for name in names)
            if watch is not None and watch.restart_at is None
        ]
        if not watches or self._stopping():
            return
        self._say(f"restarting {', '.join(w.child.name for w in watches)}: they depend on {cause}")
        with ThreadPoolExecutor(max_workers=len(watches)) as pool:
            list(pool.map(lambda watch: watch.child.stop(), watches))
        now = self._now()
        for watch in watches:
            watch.last_exit = {
                "reason": f"restarted by ticketflow dev after {cause} restarted",
                "returncode": watch.child.returncode(),
                "signal": None,
                "at": self._wall().isoformat(),
                "uptime_s": round(now - watch.started_at, 1),
            }
            watch.died_at = now
            watch.restart_at = now
            watch.awaiting_health = False

    def _healthy_again(self, watch: _Watch) -> None:
        watch.awaiting_health = False
        since = ""
        if watch.died_at is not None:
            since = f", {self._now() - watch.died_at:.1f} s after it went down"
        self._say(f"{watch.child.name} is healthy again{since}")
