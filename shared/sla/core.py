"""evolve / advance / replay: a ticket's SLA state as a fold over its events.

`evolve(state, event, policy)` first lets every timer that falls due strictly before the event
fire (a response at exactly the deadline is in time), then applies the event. `advance(state,
policy, now)` fires what is due before `now`. Both return the new state and the derived SLA
events, each stamped with the instant it describes (a breach with its deadline).

Inside, time is integer microseconds since the epoch (see `clock.py`): an event's instant is
converted once as it comes in, and a derived event's instants become datetimes as it goes out
(an event's own consequences carry the event's datetime, unconverted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import NamedTuple

from shared.calendar.table import instant_of, micros
from shared.events.types import TicketEventType, TicketStatus
from shared.policy import METRICS, MetricName, Policy
from shared.sla.clock import Clock, Deadline
from shared.sla.intake import decide_acceptance
from shared.sla.timeline import Emitted, TimelineEvent

STARTED_AT_OPENING: frozenset[MetricName] = frozenset({"first_response", "resolution"})
# A priority change retargets every clock but the closure confirmation window (the same
# for every priority).
RETARGETED_ON_SEVERITY_CHANGE: tuple[MetricName, ...] = tuple(
    metric for metric in METRICS if metric != "closure_confirmation"
)
# Events that never touch a clock: only the version moves. (What staff record for billing
# is not an answer to the customer: logged work, determinations, ESS, fee quotes.)
NO_CLOCK_EFFECT = frozenset(
    {
        TicketEventType.ASSIGNED,
        TicketEventType.COMMENT_ADDED,
        TicketEventType.ESCALATION_REQUESTED,
        TicketEventType.WORK_LOGGED,
        TicketEventType.DETERMINATION_RECORDED,
        TicketEventType.ESS_STARTED,
        TicketEventType.ESS_STOPPED,
        TicketEventType.FEE_QUOTED,
        TicketEventType.QUOTE_ANSWERED,
    }
)
# Events that show a human answered (a request for information or a fix is an answer too).
FIRST_RESPONSE_EVENTS = frozenset(
    {
        TicketEventType.RESPONDED,
        TicketEventType.AWAITING_CUSTOMER,
        TicketEventType.WORKAROUND_PROVIDED,
        TicketEventType.RESOLVED,
        TicketEventType.CLOSURE_REQUESTED,
    }
)


@dataclass(frozen=True)
class TicketSla:
    """Everything the SLA service knows about one ticket.

    `timers` caches the pending deadlines of `clocks`, earliest first; it is recomputed in one
    place (`_with_clocks`) whenever a clock changes, so the hot path can check "is anything due
    before this event?" in O(1).
    """

    policy: str
    accepted: bool
    rejection: str | None
    flags: tuple[str, ...]
    priority: str
    plan: str | None
    channel: str
    opened_at: datetime
    status: str
    version: int
    clocks: dict[str, Clock]
    overrides: dict[str, float]
    timers: tuple[Deadline, ...] = ()

    def clock(self, metric: str) -> Clock | None:
        return self.clocks.get(metric)

    def _but(self, **changes: object) -> TicketSla:
        clone = object.__new__(TicketSla)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone


class Decision(NamedTuple):
    """What the core decided: the ticket's new SLA state and the SLA events it emits."""

    state: TicketSla
    emitted: list[Emitted]


def timers_of(clocks: dict[str, Clock]) -> tuple[Deadline, ...]:
    """The pending timers of `clocks`, earliest first (`Clock.timers`, inlined: this runs on
    every clock change). Equal instants keep the clocks' order, a warning before its due."""
    timers: list[Deadline] = []
    for clock in clocks.values():
        if clock.phase != "running" or clock.target is None or clock.breached_us is not None:
            continue
        if clock.warn_us is not None and not clock.warned:
            timers.append(Deadline(clock.warn_us, clock.metric, "warning"))
        if clock.due_us is not None:
            timers.append(Deadline(clock.due_us, clock.metric, "due"))
    if len(timers) > 1:
        timers.sort(key=_at)
    return tuple(timers)


_at = itemgetter(0)  # a Deadline's instant


def advance(state: TicketSla, policy: Policy, now: datetime) -> Decision:
    """Fire every timer due strictly before `now`, in time order."""
    emitted: list[Emitted] = []
    return Decision(_advance(state, policy, micros(now), emitted), emitted)


def _advance(state: TicketSla, policy: Policy, now: int, emitted: list[Emitted]) -> TicketSla:
    while state.timers and state.timers[0].at_us < now:
        state = _fire(state, policy, state.timers[0], emitted)
    return state


def evolve(state: TicketSla | None, event: TimelineEvent, policy: Policy) -> Decision:
    if state is None:
        if event.type != TicketEventType.OPENED:
            raise ValueError(
                f"a ticket's history starts with {TicketEventType.OPENED}, not {event.type}"
            )
        return _open(event, policy)
    if event.type == TicketEventType.OPENED:
        raise ValueError("ticket.opened can only be the first event")
    emitted: list[Emitted] = []
    at = micros(event.at)
    if state.timers and state.timers[0].at_us < at:
        state = _advance(state, policy, at, emitted)
    version = event.sequence if event.sequence is not None else state.version + 1
    if state.accepted and event.type not in NO_CLOCK_EFFECT:
        # One copy of the state per event: the version travels with the clock changes.
        return Decision(_apply(state, event, at, policy, emitted, version), emitted)
    return Decision(state._but(version=version), emitted)


def replay(
    events: Iterable[TimelineEvent], policy: Policy, now: datetime | None = None
) -> Decision:
    """Fold a whole history (and optionally advance to `now`)."""
    state: TicketSla | None = None
    emitted: list[Emitted] = []
    for event in events:
        step = evolve(state, event, policy)
        state = step.state
        emitted.extend(step.emitted)
    if state is None:
        raise ValueError("empty history")
    if now is not None:
        step = advance(state, policy, now)
        state = step.state
        emitted.extend(step.emitted)
    return Decision(state, emitted)


# --- opening ----------------------------------------------------------------------------------


def _open(event: TimelineEvent, policy: Policy) -> Decision:
    data = event.data
    verdict = decide_acceptance(policy, data, event.at)
    priority = str(data.get("priority", ""))
    plan = data.get("plan")
    overrides = {str(k): float(v) for k, v in (data.get("target_overrides") or {}).items()}
    clocks: dict[str, Clock] = {}
    emitted: list[Emitted] = []
    if verdict.accepted:
        emitted.append(Emitted("sla.ticket_accepted", event.at, None, {"flags": verdict.flags}))
        key = ("sla.idle_clocks", priority, plan, tuple(overrides.items()), verdict.no_target_for)
        idle = policy.memoised(
            key, lambda: _idle_clocks(policy, priority, plan, overrides, verdict.no_target_for)
        )
        at = micros(event.at)
        not_before = micros(verdict.clock_start) if verdict.clock_start is not None else None
        for metric, clock in idle.items():
            if metric in STARTED_AT_OPENING:
                clock = clock.start(at, policy.warning_fraction, not_before)
                if clock.target is not None:
                    emitted.append(_started(clock, at, event.at))
            clocks[metric] = clock
    else:
        emitted.append(
            Emitted("sla.ticket_rejected", event.at, None, {"reason": verdict.rejection})
        )
    state = TicketSla(
        policy=policy.ref,
        accepted=verdict.accepted,
        rejection=verdict.rejection,
        flags=verdict.flags,
        priority=priority,
        plan=plan,
        channel=str(data.get("channel", "")),
        opened_at=event.at,
        status="open" if verdict.accepted else "rejected",
        version=event.sequence or 1,
        clocks=clocks,
        overrides=overrides,
        timers=timers_of(clocks),
    )
    return Decision(state, emitted)


def _idle_clocks(
    policy: Policy,
    priority: str,
    plan: str | None,
    overrides: dict[str, float],
    no_target_for: frozenset[str],
) -> dict[str, Clock]:
    """The clocks of a new ticket before any starts: the same for every ticket with these
    terms, so computed once per policy and shared (clocks are immutable)."""
    return {
        metric: Clock(
            metric=metric,
            target=None
            if metric in no_target_for
            else policy.target(metric, priority, plan, overrides),
            warns=spec.warn,
        )
        for metric, spec in policy.metrics.items()
    }


def _started(clock: Clock, at: int, when: datetime) -> Emitted:
    """`sla.clock_started` at the event (`at`, as the datetime `when`); the clock may begin
    later (the next business day's opening after the cut-off)."""
    begins = clock.runs_us[-1][0] if clock.runs_us else at
    return Emitted(
        "sla.clock_started",
        when,
        clock.metric,
        {
            "starts_at": when if begins == at else instant_of(begins),
            "due_at": clock.due_at,
            "target": clock.target,
        },
    )


# --- timers -----------------------------------------------------------------------------------


def _fire(state: TicketSla, policy: Policy, timer: Deadline, out: list[Emitted]) -> TicketSla:
    clock = state.clocks[timer.metric]
    when = instant_of(timer.at_us)
    if timer.kind == "warning":
        out.append(Emitted("sla.warning", when, timer.metric, {"due_at": clock.due_at}))
        return _with(state, clock.fire(timer))
    if timer.metric == "closure_confirmation":
        # Voximplant 3.4.4: no answer within 48 h -> the ticket is considered closed.
        out.append(
            Emitted(
                "sla.close_by_timeout_due",
                when,
                timer.metric,
                {"based_on_version": state.version},
            )
        )
        return _with(state, clock.stop(timer.at_us, met=True))
    if timer.metric == "customer_response":
        # Voximplant 3.4.2: the customer did not answer in time -> lower the priority.
        fired = clock.fire(timer)
        lower = policy.downgraded(state.priority)
        if lower is not None:
            out.append(
                Emitted(
                    "sla.severity_downgrade_proposed",
                    when,
                    timer.metric,
                    {"from": state.priority, "to": lower, "based_on_version": state.version},
                )
            )
        return _with(state, fired)
    out.append(Emitted("sla.breached", when, timer.metric, {"due_at": when}))
    return _with(state, clock.fire(timer))


# --- events -----------------------------------------------------------------------------------


def _with(state: TicketSla, *clocks: Clock, **changes: object) -> TicketSla:
    updated = dict(state.clocks)
    for clock in clocks:
        updated[clock.metric] = clock
    return state._but(clocks=updated, timers=timers_of(updated), **changes)


class _Change:
    """One event's effect on a ticket, while its handler runs: a working copy of the clocks
    (`changed` names the ones touched, in order), the status, and the derived events. `at` is
    the event's instant in integer microseconds, `when` the same instant as the event's
    datetime (what derived events are stamped with)."""

    __slots__ = (
        "at",
        "changed",
        "clocks",
        "fraction",
        "kind",
        "out",
        "policy",
        "state",
        "status",
        "when",
    )

    def __init__(
        self, state: TicketSla, event: TimelineEvent, at: int, policy: Policy, out: list[Emitted]
    ) -> None:
        self.state = state
        self.policy = policy
        self.at = at
        self.when = event.at
        self.kind = event.type
        self.fraction = policy.warning_fraction
        self.clocks = dict(state.clocks)
        self.changed: list[str] = []
        self.status = state.status
        self.out = out

    def put(self, clock: Clock) -> None:
        if clock.metric not in self.changed:
            self.changed.append(clock.metric)
        self.clocks[clock.metric] = clock

    def meet(self, metric: MetricName) -> None:
        clock = self.clocks.get(metric)
        if clock is None or not clock.is_active:
            return
        at, when, out = self.at, self.when, self.out
        if clock.breached_us is not None and at <= clock.breached_us:
            # A late event: the answer came in time, the breach already sent was wrong.
            self.put(clock.stop(at, met=True)._but(breached_us=None))
            out.append(_retracted(clock, when, self.kind))
            out.append(Emitted("sla.met", when, metric, {"due_at": clock.due_at}))
            return
        self.put(clock.stop(at, met=True))
        if clock.target is None:
            return
        if clock.breached_us is None:
            out.append(Emitted("sla.met", when, metric, {"due_at": clock.due_at}))
        else:
            out.append(
                Emitted("sla.clock_stopped", when, metric, {"outcome": "completed_after_breach"})
            )

    def cancel(self, metric: MetricName, reason: str) -> None:
        clock = self.clocks.get(metric)
        if clock is None or not clock.is_active:
            return
        self.put(clock.stop(self.at, met=False))
        if clock.target is not None:
            self.out.append(Emitted("sla.clock_stopped", self.when, metric, {"outcome": reason}))

    def start(self, metric: MetricName) -> None:
        clock = self.clocks.get(metric)
        if clock is None:
            return
        started = clock.start(self.at, self.fraction)
        self.put(started)
        if started.target is not None:
            self.out.append(_started(started, self.at, self.when))


def _on_awaiting_customer(change: _Change, event: TimelineEvent) -> None:
    change.status = TicketStatus.AWAITING_CUSTOMER
    at, when = change.at, change.when
    for metric, spec in change.policy.metrics.items():
        clock = change.clocks.get(metric)
        if clock is not None and clock.phase == "running" and spec.pauses_on_customer_side:
            change.put(clock.pause(at))
            if clock.target is not None:
                change.out.append(
                    Emitted("sla.clock_paused", when, metric, {"reason": change.kind})
                )
    change.start("customer_response")


def _on_customer_replied(change: _Change, event: TimelineEvent) -> None:
    change.meet("customer_response")
    change.cancel("closure_confirmation", "customer_replied_to_closure_request")
    if change.status in (TicketStatus.AWAITING_CUSTOMER, TicketStatus.CLOSURE_REQUESTED):
        change.status = "open"
    at = change.at
    for metric in change.policy.metrics:
        clock = change.clocks.get(metric)
        if clock is not None and clock.phase == "paused":
            resumed = clock.resume(at, change.fraction)
            change.put(resumed)
            if clock.target is not None:
                change.out.append(
                    Emitted("sla.clock_resumed", change.when, metric, {"due_at": resumed.due_at})
                )


def _on_severity_changed(change: _Change, event: TimelineEvent) -> None:
    state, policy, at = change.state, change.policy, change.at
    new_priority = str(event.data.get("priority", state.priority))
    if new_priority not in policy.priorities or new_priority == state.priority:
        return
    restart = policy.severity_change == "restart_from_change"
    for metric in RETARGETED_ON_SEVERITY_CHANGE:
        clock = change.clocks.get(metric)
        if clock is None:
            continue
        target = policy.target(metric, new_priority, state.plan, state.overrides)
        updated = clock.retarget(target, at, restart, change.fraction)
        if updated is not clock:
            change.put(updated)
            if clock.is_active:
                change.out.append(
                    Emitted(
                        "sla.target_changed",
                        change.when,
                        metric,
                        {"priority": new_priority, "due_at": updated.due_at},
                    )
                )
    change.state = state._but(priority=new_priority)


def _on_workaround_provided(change: _Change, event: TimelineEvent) -> None:
    resolution_spec = change.policy.metrics.get("resolution")
    if resolution_spec is not None and resolution_spec.stops_on_workaround:
        change.meet("resolution")


def _on_resolved(change: _Change, event: TimelineEvent) -> None:
    change.status = "resolved"
    change.meet("resolution")
    change.cancel("customer_response", "resolved")
    rfo = change.clocks.get("rfo")
    if rfo is not None and rfo.phase == "idle":
        change.start("rfo")


def _on_rfo_delivered(change: _Change, event: TimelineEvent) -> None:
    change.meet("rfo")


def _on_closure_requested(change: _Change, event: TimelineEvent) -> None:
    change.status = TicketStatus.CLOSURE_REQUESTED
    change.start("closure_confirmation")


def _on_closed(change: _Change, event: TimelineEvent) -> None:
    change.status = "closed"
    change.meet("closure_confirmation")
    change.meet("resolution")
    change.cancel("first_response", "closed_before_response")
    change.cancel("customer_response", "closed")


def _on_reopened(change: _Change, event: TimelineEvent) -> None:
    change.status = "open"
    change.cancel("closure_confirmation", "reopened")
    resolution = change.clocks.get("resolution")
    if resolution is not None and resolution.phase == "met":
        change.put(resolution.reopen(change.at, change.fraction))
        if resolution.target is not None:
            change.out.append(
                Emitted("sla.clock_resumed", change.when, "resolution", {"reason": change.kind})
            )


Handler = Callable[[_Change, TimelineEvent], None]

HANDLERS: dict[str, Handler] = {
    TicketEventType.AWAITING_CUSTOMER: _on_awaiting_customer,
    TicketEventType.CUSTOMER_REPLIED: _on_customer_replied,
    TicketEventType.SEVERITY_CHANGED: _on_severity_changed,
    TicketEventType.WORKAROUND_PROVIDED: _on_workaround_provided,
    TicketEventType.RESOLVED: _on_resolved,
    TicketEventType.RFO_DELIVERED: _on_rfo_delivered,
    TicketEventType.CLOSURE_REQUESTED: _on_closure_requested,
    TicketEventType.CLOSED: _on_closed,
    TicketEventType.CLOSED_BY_TIMEOUT: _on_closed,
    TicketEventType.REOPENED: _on_reopened,
}
"""What each event type does to the clocks, besides stopping the first-response clock (see
FIRST_RESPONSE_EVENTS). A type without a handler (`ticket.responded`) only moves the version."""


def _apply(
    state: TicketSla,
    event: TimelineEvent,
    at: int,
    policy: Policy,
    out: list[Emitted],
    version: int,
) -> TicketSla:
    change = _Change(state, event, at, policy, out)
    if event.type in FIRST_RESPONSE_EVENTS:
        change.meet("first_response")
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(change, event)
    state, clocks, status = change.state, change.clocks, change.status
    if change.changed:
        before = state.clocks
        for name in change.changed:
            clocks[name] = _corrected(before.get(name), clocks[name], change, out)
        return state._but(clocks=clocks, timers=timers_of(clocks), status=status, version=version)
    return state._but(status=status, version=version)


# --- late events --------------------------------------------------------------------------------


def _retracted(clock: Clock, at: datetime, cause: str) -> Emitted:
    return Emitted(
        "sla.breach_retracted",
        at,
        clock.metric,
        {"breached_at": clock.breached_at, "cause": cause},
    )


def _corrected(before: Clock | None, after: Clock, change: _Change, out: list[Emitted]) -> Clock:
    """An event older than a breach already emitted changed the clock: correct the record.

    Live, timers fire by the wall clock, so an event can arrive after a breach it precedes
    (a phone ticket logged late, a consumer that caught up). If the clock now stops, pauses, or
    falls due later than the breach, the breach is retracted (a timer still due fires anew);
    if it falls due earlier, the breach instant is corrected.
    """
    breached = before.breached_us if before is not None else None
    if before is None or breached is None or after.breached_us is None:
        return after
    if change.at > breached:
        return after
    due = after.due_us if after.phase == "running" else None
    if due is None or due > breached:
        out.append(_retracted(before, change.when, change.kind))
        return after._but(breached_us=None)
    if due < breached:
        out.append(
            Emitted(
                "sla.corrected",
                change.when,
                after.metric,
                {
                    "breached_at": instant_of(due),
                    "previous_breached_at": before.breached_at,
                    "cause": change.kind,
                },
            )
        )
        return after._but(breached_us=due)
    return after
