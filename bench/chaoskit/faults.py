"""The faults: kill -9 of each service, SIGSTOP/SIGCONT of the SLA worker, PostgreSQL stopped
with `-m immediate`; each followed by a bounded wait until what was hit is healthy again.

Services are restarted by `ticketflow dev` (never by this harness). PostgreSQL is given a few
seconds to be restarted by the stack, then started with `pg_ctl` on the same data dir and port.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.chaoskit.postgres_ctl import EmbeddedCluster
from bench.chaoskit.stack import DevStack

KILLS = {
    "kill_intake": "intake",
    "kill_sla": "sla",
    "kill_escalation": "escalation",
    "kill_notify": "notify",
}
FAULT_KINDS = (*KILLS, "sigstop_sla", "pg_stop")
NO_FAULT = "none"


@dataclass(frozen=True)
class Phase:
    """A stretch of the run that starts with one fault (or none: the control) and lasts until
    the next phase starts. Its times are the actual ones, known after the run."""

    index: int
    round: int
    kind: str
    start: float
    end: float


def plan(
    kinds: list[str], rounds: int, per_round: int, rng: random.Random
) -> list[tuple[int, str]]:
    """Each round: a control phase, then every kind `per_round` times in a seeded order."""
    out: list[tuple[int, str]] = []
    for round_no in range(1, rounds + 1):
        order = [kind for kind in kinds for _ in range(per_round)]
        rng.shuffle(order)
        out += [(round_no, kind) for kind in [NO_FAULT, *order]]
    return out


def phase_of(phases: list[Phase], wall: float) -> Phase | None:
    """The phase `wall` falls in (the first one from the start of the run, the last one on to
    its end)."""
    if phases and wall < phases[0].start:
        return phases[0]
    for phase in phases:
        if phase.start <= wall < phase.end:
            return phase
    return None


@dataclass
class FaultRecord:
    kind: str
    phase: int
    round: int
    at: float
    target: str
    pid: int | None = None
    new_pid: int | None = None
    ready_s: float | None = None
    restarted_by: str | None = None
    note: str = ""
    pipeline_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = round(self.at, 3)
        return out


class Injector:
    def __init__(
        self,
        stack: DevStack,
        cluster: EmbeddedCluster,
        *,
        recovery_timeout_s: float = 45.0,
        sigstop_s: float = 4.0,
        pg_grace_s: float = 5.0,
        log: Any = None,
    ) -> None:
        self._stack = stack
        self._cluster = cluster
        self._timeout = recovery_timeout_s
        self._sigstop_s = sigstop_s
        self._pg_grace = pg_grace_s
        self._log = log or (lambda _m: None)
        self.records: list[FaultRecord] = []
        self.phases: list[Phase] = []
        self.harness_started_postgres = False
        self.stopped: set[int] = set()

    async def run(
        self, planned: list[tuple[int, str]], phase_s: float, settle_s: float, stop: asyncio.Event
    ) -> None:
        """Each phase: inject its fault, wait for recovery, then let the pipeline run for the
        rest of `phase_s` (at least `settle_s` after recovery) before the next phase."""
        for index, (round_no, kind) in enumerate(planned):
            if stop.is_set() or not self._stack.alive():
                break
            start = time.time()
            if kind != NO_FAULT:
                record = await self.inject(Phase(index, round_no, kind, start, start))
                self.records.append(record)
                start = record.at
                self._log(
                    f"phase {index} round {round_no}: {kind} -> ready after "
                    f"{record.ready_s if record.ready_s is not None else 'never'} s "
                    f"{record.note}".rstrip()
                )
            else:
                self._log(f"phase {index} round {round_no}: no fault (control)")
            self.phases.append(Phase(index, round_no, kind, start, float("inf")))
            if len(self.phases) > 1:
                previous = self.phases[-2]
                self.phases[-2] = Phase(
                    previous.index, previous.round, previous.kind, previous.start, start
                )
            until = max(start + phase_s, time.time() + settle_s)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, until - time.time()))
                break
            except TimeoutError:
                pass

    async def inject(self, phase: Phase) -> FaultRecord:
        if phase.kind in KILLS:
            return await self._kill(phase, KILLS[phase.kind])
        if phase.kind == "sigstop_sla":
            return await self._sigstop(phase)
        if phase.kind == "pg_stop":
            return await self._pg_stop(phase)
        raise ValueError(f"unknown fault {phase.kind}")

    async def _wait(self, healthy: Any, since: float) -> float | None:
        """Seconds from `since` until `healthy()` holds; None after the recovery timeout."""
        while time.time() - since < self._timeout:
            if not self._stack.alive():
                return None
            if await asyncio.to_thread(healthy):
                return round(time.time() - since, 3)
            await asyncio.sleep(0.1)
        return None

    async def _kill(self, phase: Phase, service: str) -> FaultRecord:
        pid = self._stack.service_pids().get(service)
        record = FaultRecord(phase.kind, phase.index, phase.round, time.time(), service, pid)
        if pid is None:
            record.note = f"no {service} process found"
            return record
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            record.note = "already gone"

        def back() -> bool:
            new = self._stack.service_pids().get(service)
            if new is None or new == pid:
                return False
            record.new_pid = new
            return self._stack.ready(service)

        record.ready_s = await self._wait(back, record.at)
        if record.ready_s is not None:
            record.restarted_by = "stack"
        elif not self._stack.alive():
            record.note = f"ticketflow dev exited ({self._stack.process.returncode})"
        else:
            record.note = f"{service} not restarted within {self._timeout:.0f} s"
        return record

    async def _sigstop(self, phase: Phase) -> FaultRecord:
        pid = self._stack.service_pids().get("sla")
        record = FaultRecord(phase.kind, phase.index, phase.round, time.time(), "sla", pid)
        if pid is None:
            record.note = "no sla process found"
            return record
        try:
            os.kill(pid, signal.SIGSTOP)
            self.stopped.add(pid)
            await asyncio.sleep(self._sigstop_s)
        finally:
            self.resume_all()
        record.extra["stopped_s"] = self._sigstop_s
        record.ready_s = await self._wait(lambda: self._stack.ready("sla"), record.at)
        if record.ready_s is None:
            record.note = "sla not ready after SIGCONT"
        return record

    def resume_all(self) -> None:
        """SIGCONT whatever this harness stopped (also on the way out after an error)."""
        for pid in list(self.stopped):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.stopped.discard(pid)

    async def _pg_stop(self, phase: Phase) -> FaultRecord:
        cluster = self._cluster
        pid = cluster.postmaster_pid()
        record = FaultRecord(phase.kind, phase.index, phase.round, time.time(), "postgres", pid)
        record.extra["pg_ctl_stop"] = await asyncio.to_thread(cluster.stop_immediate)
        stopped_at = time.time()
        # Give the stack its chance to bring PostgreSQL back.
        while time.time() - stopped_at < self._pg_grace:
            await asyncio.sleep(0.25)
            new = cluster.postmaster_pid()
            if new is not None and new != pid and await asyncio.to_thread(cluster.ready):
                record.restarted_by = "stack"
                break
        if record.restarted_by is None:
            record.extra["pg_ctl_start"] = await asyncio.to_thread(cluster.start)
            new = cluster.postmaster_pid()
            if new is not None and new != pid:
                # pg_ctl may have lost a race with the stack's own restart: ask the process.
                record.restarted_by = "stack" if self._stack.owns(new) else "harness"
                if record.restarted_by == "harness":
                    self.harness_started_postgres = True
        record.new_pid = cluster.postmaster_pid()
        pg_ready = await self._wait(cluster.ready, record.at)
        record.extra["postgres_ready_s"] = pg_ready
        record.ready_s = await self._wait(lambda: self._stack.ready("intake"), record.at)
        if record.ready_s is None:
            record.note = "intake not ready after PostgreSQL came back"
        return record
