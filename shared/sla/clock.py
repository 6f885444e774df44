"""One SLA clock: a target measured in a business calendar over the spans the clock ran.

A clock keeps the wall-clock spans it ran (`runs_us`), not a number: elapsed business time is
recomputed in whatever calendar the current target uses, so a severity change that moves a
ticket from a 24x7 target to a business-hours one measures the past correctly.

Every instant a clock holds is an integer: microseconds since the epoch, UTC. The core folds
events on integers and asks the calendar's compiled table in integers (`add_us`,
`between_us`), so no datetime is built or compared on the hot path. Readers at the edges (the
views, the console, reports) read the same instants as aware datetimes through the properties
`runs`, `due_at`, `warn_at`, `breached_at`, `met_at` and `not_before`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, NamedTuple

from shared.calendar.table import instant_of, micros
from shared.policy import Target

Phase = Literal["idle", "running", "paused", "met", "cancelled"]
Status = Literal["running", "paused", "met", "breached", "none"]
TimerKind = Literal["warning", "due"]
ZERO = timedelta(0)
Runs = tuple[tuple[int, int | None], ...]
"""The spans a clock ran, (start, end or None while it runs), in integer microseconds."""


def _maybe_instant(value: int | None) -> datetime | None:
    return instant_of(value) if value is not None else None


class Deadline(NamedTuple):
    """A pending timer: at `at_us` (integer microseconds since the epoch), `metric`'s clock
    warns or falls due. (A named tuple: the core makes one per pending timer on every clock
    change, at a third of a dataclass's cost.)"""

    at_us: int
    metric: str
    kind: TimerKind

    @property
    def at(self) -> datetime:
        """The instant as an aware UTC datetime (for readers at the edges)."""
        return instant_of(self.at_us)


@lru_cache(maxsize=256)
def scaled(duration: int, fraction: float) -> int:
    """`duration` microseconds times `fraction`, rounded half to even: exactly what
    `timedelta * float` gives, so a warning falls on the microsecond it always did."""
    numerator, denominator = fraction.as_integer_ratio()
    quotient, remainder = divmod(duration * numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


@dataclass(frozen=True)
class Clock:
    metric: str
    target: Target | None
    phase: Phase = "idle"
    runs_us: Runs = ()
    not_before_us: int | None = None
    due_us: int | None = None
    warn_us: int | None = None
    warned: bool = False
    breached_us: int | None = None
    met_us: int | None = None
    warns: bool = True

    def _but(self, **changes: object) -> Clock:
        """A copy with `changes`: `dataclasses.replace` without its per-call introspection,
        which dominated the core's profile."""
        clone = object.__new__(Clock)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone

    # --- reading, at the edges (aware datetimes) -------------------------------------------

    @property
    def runs(self) -> tuple[tuple[datetime, datetime | None], ...]:
        return tuple((instant_of(start), _maybe_instant(end)) for start, end in self.runs_us)

    @property
    def not_before(self) -> datetime | None:
        return _maybe_instant(self.not_before_us)

    @property
    def due_at(self) -> datetime | None:
        """The due instant as a datetime, converted once per due instant: derived events
        carry it (started, warned, met), and the copies a transition makes share it."""
        due = self.due_us
        if due is None:
            return None
        cached: tuple[int, datetime] | None = self.__dict__.get("_due_at")
        if cached is not None and cached[0] == due:
            return cached[1]
        instant = instant_of(due)
        self.__dict__["_due_at"] = (due, instant)  # not a field: eq, repr and codec skip it
        return instant

    @property
    def warn_at(self) -> datetime | None:
        return _maybe_instant(self.warn_us)

    @property
    def breached_at(self) -> datetime | None:
        return _maybe_instant(self.breached_us)

    @property
    def met_at(self) -> datetime | None:
        return _maybe_instant(self.met_us)

    @property
    def status(self) -> Status:
        if self.breached_us is not None:
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
        return timedelta(microseconds=self.elapsed_us(micros(until)))

    def elapsed_us(self, until: int) -> int:
        if self.target is None:
            return 0
        between = self.target.calendar.between_us
        return sum(between(start, end if end is not None else until) for start, end in self.runs_us)

    def remaining(self, at: datetime) -> timedelta | None:
        if self.target is None:
            return None
        return timedelta(microseconds=max(self.target.micros - self.elapsed_us(micros(at)), 0))

    def timers(self) -> list[Deadline]:
        if self.phase != "running" or self.target is None or self.breached_us is not None:
            return []
        out = []
        if self.warn_us is not None and not self.warned:
            out.append(Deadline(self.warn_us, self.metric, "warning"))
        if self.due_us is not None:
            out.append(Deadline(self.due_us, self.metric, "due"))
        return out

    # --- transitions (each returns a new clock; instants in integer microseconds) -----------

    def start(self, at: int, fraction: float | None, not_before: int | None = None) -> Clock:
        """Start afresh (a new information request, a new closure request)."""
        begin = max(at, not_before) if not_before is not None else at
        runs: Runs = ((begin, None),)
        due, warn = self._due_times(runs, fraction, warned=False)
        return self._but(
            phase="running",
            runs_us=runs,
            not_before_us=not_before,
            warned=False,
            breached_us=None,
            met_us=None,
            due_us=due,
            warn_us=warn,
        )

    def pause(self, at: int) -> Clock:
        if self.phase != "running":
            return self
        start, _ = self.runs_us[-1]
        runs = (*self.runs_us[:-1], (start, max(start, at)))
        return self._but(phase="paused", runs_us=runs, due_us=None, warn_us=None)

    def resume(self, at: int, fraction: float | None) -> Clock:
        if self.phase != "paused":
            return self
        floor = self.not_before_us
        begin = max(at, floor) if floor is not None else at
        runs = (*self.runs_us, (begin, None))
        due, warn = self._due_times(runs, fraction, self.warned)
        return self._but(phase="running", runs_us=runs, due_us=due, warn_us=warn)

    def stop(self, at: int, met: bool) -> Clock:
        if not self.is_active:
            return self
        runs = self.runs_us
        if self.phase == "running":
            start, _ = runs[-1]
            runs = (*runs[:-1], (start, max(start, at)))
        return self._but(
            phase="met" if met else "cancelled",
            runs_us=runs,
            met_us=at if met else None,
            warn_us=None,
        )

    def reopen(self, at: int, fraction: float | None) -> Clock:
        """Resume a met clock (a reopened ticket is still being resolved)."""
        if self.phase != "met":
            return self
        runs = (*self.runs_us, (at, None))
        due, warn = self._due_times(runs, fraction, self.warned)
        return self._but(phase="running", met_us=None, runs_us=runs, due_us=due, warn_us=warn)

    def retarget(
        self, target: Target | None, at: int, restart: bool, fraction: float | None
    ) -> Clock:
        """A new target after a severity change; the deadline is never before the change."""
        if not self.is_active:
            return self._but(target=target) if self.phase == "idle" else self
        clock = self._but(target=target)
        if restart:
            runs: Runs = ((at, None),) if self.phase == "running" else ()
            clock = clock._but(runs_us=runs, warned=False)
        if clock.phase == "running":
            clock = clock.schedule(fraction)
            if clock.due_us is not None and clock.due_us < at:
                clock = clock._but(due_us=at)
            if clock.warn_us is not None and clock.warn_us < at:
                # The new target's warning point has passed: warn now, unless the clock is
                # due now too (the breach says it), never at an instant before the change.
                due_now = clock.due_us is not None and clock.due_us <= at
                clock = clock._but(warn_us=None if due_now else at)
        return clock

    def schedule(self, fraction: float | None) -> Clock:
        """Recompute the due (and warning) instants of a running clock from its runs."""
        if self.phase != "running":
            return self._but(due_us=None, warn_us=None)
        due, warn = self._due_times(self.runs_us, fraction, self.warned)
        return self._but(due_us=due, warn_us=warn)

    def _due_times(
        self, runs: Runs, fraction: float | None, warned: bool
    ) -> tuple[int | None, int | None]:
        """(due, warning) instants of the clock running over `runs` (the last one open)."""
        target = self.target
        if target is None:
            return None, None
        calendar = target.calendar
        since = runs[-1][0]
        done = 0
        if len(runs) > 1:
            for start, end in runs[:-1]:
                done += calendar.between_us(start, end if end is not None else since)
        duration = target.micros
        due = calendar.add_us(since, duration - done) if done < duration else since
        warn = None
        if fraction is not None and self.warns and not warned:
            threshold = scaled(duration, fraction)
            if done < threshold:
                warn = calendar.add_us(since, threshold - done)
        return due, warn

    def fire(self, deadline: Deadline) -> Clock:
        if deadline.kind == "warning":
            return self._but(warned=True, warn_us=None)
        return self._but(breached_us=deadline.at_us, warn_us=None)
