"""One SLA clock: a target measured in a business calendar over the spans the clock ran.

A clock keeps the wall-clock spans it ran (`runs`), not a number: elapsed business time is
recomputed in whatever calendar the current target uses, so a severity change that moves a
ticket from a 24x7 target to a business-hours one measures the past correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from shared.policy import Target

Phase = Literal["idle", "running", "paused", "met", "cancelled"]
Status = Literal["running", "paused", "met", "breached", "none"]
TimerKind = Literal["warning", "due"]
ZERO = timedelta(0)
Runs = tuple[tuple[datetime, datetime | None], ...]


class Deadline(NamedTuple):
    """A pending timer: at `at`, `metric`'s clock warns or falls due. (A named tuple: the core
    makes one per pending timer on every clock change, at a third of a dataclass's cost.)"""

    at: datetime
    metric: str
    kind: TimerKind


@dataclass(frozen=True)
class Clock:
    metric: str
    target: Target | None
    phase: Phase = "idle"
    runs: tuple[tuple[datetime, datetime | None], ...] = ()
    not_before: datetime | None = None
    due_at: datetime | None = None
    warn_at: datetime | None = None
    warned: bool = False
    breached_at: datetime | None = None
    met_at: datetime | None = None
    warns: bool = True

    def _but(self, **changes: object) -> Clock:
        """A copy with `changes`: `dataclasses.replace` without its per-call introspection,
        which dominated the core's profile."""
        clone = object.__new__(Clock)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone

    # --- reading ------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        if self.breached_at is not None:
            return "breached"
        if self.target is None or self.phase in ("idle", "cancelled"):
            return "none"
        if self.phase == "met":
            return "met"
        return "paused" if self.phase == "paused" else "running"

    @property
    def is_active(self) -> bool:
        return self.phase in ("running", "paused")

    def elapsed(self, until: datetime) -> timedelta:
        """Business time the clock has run, measured in its target's calendar."""
        if self.target is None:
            return ZERO
        calendar = self.target.calendar
        total = ZERO
        for start, end in self.runs:
            total += calendar.between(start, end if end is not None else until)
        return total

    def remaining(self, at: datetime) -> timedelta | None:
        if self.target is None:
            return None
        return max(self.target.duration - self.elapsed(at), ZERO)

    def timers(self) -> list[Deadline]:
        if self.phase != "running" or self.target is None or self.breached_at is not None:
            return []
        out = []
        if self.warn_at is not None and not self.warned:
            out.append(Deadline(self.warn_at, self.metric, "warning"))
        if self.due_at is not None:
            out.append(Deadline(self.due_at, self.metric, "due"))
        return out

    # --- transitions (each returns a new clock) -------------------------------------------------

    def start(
        self, at: datetime, fraction: float | None, not_before: datetime | None = None
    ) -> Clock:
        """Start afresh (a new information request, a new closure request)."""
        begin = max(at, not_before) if not_before else at
        runs: Runs = ((begin, None),)
        due, warn_at = self._due_times(runs, fraction, warned=False)
        return self._but(
            phase="running",
            runs=runs,
            not_before=not_before,
            warned=False,
            breached_at=None,
            met_at=None,
            due_at=due,
            warn_at=warn_at,
        )

    def pause(self, at: datetime) -> Clock:
        if self.phase != "running":
            return self
        start, _ = self.runs[-1]
        runs = (*self.runs[:-1], (start, max(start, at)))
        return self._but(phase="paused", runs=runs, due_at=None, warn_at=None)

    def resume(self, at: datetime, fraction: float | None) -> Clock:
        if self.phase != "paused":
            return self
        begin = max(at, self.not_before) if self.not_before else at
        runs = (*self.runs, (begin, None))
        due, warn_at = self._due_times(runs, fraction, self.warned)
        return self._but(phase="running", runs=runs, due_at=due, warn_at=warn_at)

    def stop(self, at: datetime, met: bool) -> Clock:
        if not self.is_active:
            return self
        runs = self.runs
        if self.phase == "running":
            start, _ = runs[-1]
            runs = (*runs[:-1], (start, max(start, at)))
        return self._but(
            phase="met" if met else "cancelled",
            runs=runs,
            met_at=at if met else None,
            warn_at=None,
        )

    def reopen(self, at: datetime, fraction: float | None) -> Clock:
        """Resume a met clock (a reopened ticket is still being resolved)."""
        if self.phase != "met":
            return self
        runs = (*self.runs, (at, None))
        due, warn_at = self._due_times(runs, fraction, self.warned)
        return self._but(phase="running", met_at=None, runs=runs, due_at=due, warn_at=warn_at)

    def retarget(
        self, target: Target | None, at: datetime, restart: bool, fraction: float | None
    ) -> Clock:
        """A new target after a severity change; the deadline is never before the change."""
        if not self.is_active:
            return self._but(target=target) if self.phase == "idle" else self
        clock = self._but(target=target)
        if restart:
            runs: tuple[tuple[datetime, datetime | None], ...] = (
                ((at, None),) if self.phase == "running" else ()
            )
            clock = clock._but(runs=runs, warned=False)
        if clock.phase == "running":
            clock = clock.schedule(fraction)
            if clock.due_at is not None and clock.due_at < at:
                clock = clock._but(due_at=at)
            if clock.warn_at is not None and clock.warn_at < at:
                # The new target's warning point has passed: warn now, unless the clock is
                # due now too (the breach says it), never at an instant before the change.
                due_now = clock.due_at is not None and clock.due_at <= at
                clock = clock._but(warn_at=None if due_now else at)
        return clock

    def schedule(self, fraction: float | None) -> Clock:
        """Recompute the due (and warning) instants of a running clock from its runs."""
        if self.phase != "running":
            return self._but(due_at=None, warn_at=None)
        due, warn_at = self._due_times(self.runs, fraction, self.warned)
        return self._but(due_at=due, warn_at=warn_at)

    def _due_times(
        self, runs: Runs, fraction: float | None, warned: bool
    ) -> tuple[datetime | None, datetime | None]:
        """(due, warning) instants of the clock running over `runs` (the last one open)."""
        target = self.target
        if target is None:
            return None, None
        calendar = target.calendar
        since = runs[-1][0]
        done = ZERO
        if len(runs) > 1:
            for start, end in runs[:-1]:
                done += calendar.between(start, end if end is not None else since)
        duration = target.duration
        due = calendar.add(since, duration - done) if done < duration else since
        warn_at = None
        if fraction is not None and self.warns and not warned:
            threshold = duration * fraction
            if done < threshold:
                warn_at = calendar.add(since, threshold - done)
        return due, warn_at

    def fire(self, deadline: Deadline) -> Clock:
        if deadline.kind == "warning":
            return self._but(warned=True, warn_at=None)
        return self._but(breached_at=deadline.at, warn_at=None)
