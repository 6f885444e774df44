"""The supervisor of `ticketflow dev`, driven with fake children and a fake clock."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.devstack.backoff import BackoffPolicy
from services.devstack.supervisor import Supervisor, exit_reason


@dataclass
class FakeChild:
    name: str
    pid: int | None = 100
    log: Path = Path("/var/logs/fake.log")
    code: int | None = None
    up: bool = True
    fail_starts: int = 0
    starts: int = 0
    stops: int = 0
    loss: str = ""

    def returncode(self) -> int | None:
        return self.code

    def die(self, code: int = -signal.SIGKILL) -> None:
        self.code = code
        self.up = False

    def restart(self) -> None:
        if self.fail_starts:
            self.fail_starts -= 1
            raise RuntimeError("port in use")
        self.starts += 1
        self.code = None
        self.up = True
        self.pid = (self.pid or 0) + 1

    def stop(self) -> None:
        self.stops += 1
        self.code = 0

    def healthy(self) -> bool:
        return self.code is None and self.up

    def loss_note(self) -> str:
        return self.loss


@dataclass
class Clock:
    now: float = 1000.0
    epoch: datetime = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.epoch + timedelta(seconds=self.now - 1000.0)


@dataclass
class Harness:
    children: list[FakeChild]
    clock: Clock = field(default_factory=Clock)
    lines: list[str] = field(default_factory=list)
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stopping: bool = False
    dependents: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            self.children,
            out=self.lines.append,
            on_change=lambda name, record: self.changes.append((name, record)),
            policy=BackoffPolicy(initial=0.5, factor=2.0, maximum=30.0, stable_after=60.0),
            dependents=self.dependents,
            stopping=lambda: self.stopping,
            now=self.clock.monotonic,
            wall=self.clock.wall,
        )

    def run_for(self, seconds: float, step: float = 0.125) -> None:
        """Tick every `step` (a power of two: exact in binary, so no drift) for `seconds`."""
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.clock.now += step
            self.supervisor.tick()


def test_a_killed_service_is_restarted_after_the_first_delay_and_said_in_one_line() -> None:
    notify = FakeChild("notify")
    h = Harness([notify])
    h.run_for(120)  # stable
    notify.die()
    h.supervisor.tick()
    assert h.lines == [
        "notify died: killed by SIGKILL (pid 100, up 120.0 s); restarting it in 0.5 s, "
        "at 04:02:00 UTC (restart 1); its log: /var/logs/fake.log"
    ]
    h.run_for(0.375)
    assert notify.starts == 0
    h.run_for(0.125)
    assert notify.starts == 1
    assert h.lines[1] == "notify restarted (pid 101, restart 1)"
    assert h.lines[2].startswith("notify is healthy again, 0.")
    record = h.supervisor.record("notify")
    assert record["restarts"] == 1
    assert record["pid"] == 101
    assert record["last_exit"]["reason"] == "killed by SIGKILL"
    assert record["last_exit"]["signal"] == "SIGKILL"
    assert record["last_exit"]["at"] == "2026-12-02T04:02:00+00:00"
    assert h.changes[-1] == ("notify", record)


def test_deaths_in_a_row_double_the_delay_and_a_stable_run_resets_it() -> None:
    sla = FakeChild("sla")
    h = Harness([sla])
    waits = []
    for _ in range(4):
        sla.die(1)
        h.supervisor.tick()
        died_at = h.clock.now
        while sla.code is not None:
            h.run_for(0.125)
        waits.append(round(h.clock.now - died_at, 1))
        h.run_for(1)  # dies again soon after each start
    assert waits == [0.5, 1.0, 2.0, 4.0]
    h.run_for(61)
    sla.die(1)
    h.supervisor.tick()
    assert "restarting it in 0.5 s" in h.lines[-1]
    assert h.supervisor.record("sla")["restarts"] == 4


def test_a_child_that_cannot_start_is_tried_again_with_a_longer_delay() -> None:
    pg = FakeChild("postgres", fail_starts=2)
    h = Harness([pg])
    h.run_for(100)
    pg.die(-signal.SIGKILL)
    h.supervisor.tick()
    h.run_for(0.75)
    assert h.lines[-1] == "postgres could not be restarted: port in use; trying again in 1 s"
    h.run_for(1.25)
    assert h.lines[-1] == "postgres could not be restarted: port in use; trying again in 2 s"
    h.run_for(2.25)
    assert pg.starts == 1
    assert h.supervisor.record("postgres")["restarts"] == 1


def test_nothing_is_restarted_while_the_stack_stops() -> None:
    intake, notify = FakeChild("intake"), FakeChild("notify")
    h = Harness([intake, notify])
    notify.die()
    h.supervisor.tick()
    h.stopping = True
    intake.die()
    h.run_for(5)
    assert notify.starts == 0 and intake.starts == 0
    assert [line.split(":")[0] for line in h.lines] == ["notify died"]


def test_the_services_restart_after_the_memory_only_broker_came_back() -> None:
    kafka = FakeChild("kafka", loss="topics are lost")
    sla, notify = FakeChild("sla"), FakeChild("notify")
    h = Harness([kafka, sla, notify], dependents={"kafka": ["sla", "notify"]})
    h.run_for(100)
    kafka.die()
    h.supervisor.tick()
    assert "; topics are lost; restarting it in 0.5 s" in h.lines[-1]
    h.run_for(0.6)
    assert kafka.starts == 1
    assert (sla.stops, notify.stops) == (1, 1)
    assert "restarting sla, notify: they depend on kafka" in h.lines
    h.run_for(0.2)
    assert (sla.starts, notify.starts) == (1, 1)
    record = h.supervisor.record("sla")
    assert record["restarts"] == 1
    assert record["last_exit"]["reason"] == "restarted by ticketflow dev after kafka restarted"


def test_exit_reasons_name_the_signal_or_the_code() -> None:
    assert exit_reason(-9) == {"reason": "killed by SIGKILL", "returncode": -9, "signal": "SIGKILL"}
    assert exit_reason(3) == {"reason": "exited with code 3", "returncode": 3, "signal": None}
    assert exit_reason(-200)["reason"] == "killed by signal 200"
