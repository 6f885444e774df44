"""The Ticket page's content, pure: the ticket's history replayed through the SLA core as of
`now` (the same fold as the SLA service, so the page reads what `GET /v1/tickets/{id}/sla`
reads), the markers its timeline shows beside the clocks' own, and a "why is it due then?"
line per clock.

The history is replayed as the SLA service applies it: in intake's sequence, up to the first
gap. Events past a gap (one not yet projected) are held and listed, not folded, so a page
never shows a state the SLA service could not have had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from services.console.domain.history import HistoryEvent, TicketRecord, in_order
from services.console.domain.timeline import METRIC_TITLES, EventMarker
from services.console.domain.why_due import dual_label, explain_due, spell_duration
from shared.events.types import TicketEventType
from shared.policy import METRICS, Policy
from shared.sla import Clock, Emitted, TicketSla, replay
from shared.sla.view import sla_view

ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class ReplayedTicket:
    view: dict[str, Any]
    """The SLA view as JSON (the `SlaView` contract)."""
    state: TicketSla | None
    emitted: tuple[Emitted, ...]
    applied: tuple[HistoryEvent, ...]
    held: tuple[HistoryEvent, ...]
    """Events past a gap in the sequence: kept, not folded."""


def applicable(events: Sequence[HistoryEvent]) -> tuple[list[HistoryEvent], list[HistoryEvent]]:
    """(the events the SLA core folds, the events held): version order up to the first gap;
    nothing is folded before the opening (sequence 1) is there."""
    ordered = in_order(events)
    applied: list[HistoryEvent] = []
    expected = 1
    for index, event in enumerate(ordered):
        if event.sequence is not None and event.sequence != expected:
            return applied, ordered[index:]
        applied.append(event)
        expected += 1
    return applied, []


def replayed(record: TicketRecord, policy: Policy, now: datetime) -> ReplayedTicket:
    """The ticket's SLA state and view as of `now`, from its projected history."""
    applied, held = applicable(record.events)
    facts = record.facts
    state: TicketSla | None = None
    emitted: tuple[Emitted, ...] = ()
    if applied and applied[0].type == TicketEventType.OPENED:
        decision = replay((event.timeline_event() for event in applied), policy, now)
        state, emitted = decision.state, tuple(decision.emitted)
    else:
        held = [*applied, *held]
        applied = []
    view = sla_view(
        ticket_id=facts.ticket_id,
        account=facts.account,
        policy=facts.policy,
        sla=state,
        now=now,
        version=state.version if state is not None else 0,
        waiting_for=[event.sequence for event in held if event.sequence is not None],
    )
    return ReplayedTicket(view, state, emitted, tuple(applied), tuple(held))


def _title(metric: str | None) -> str:
    if metric is None:
        return ""
    return METRIC_TITLES.get(metric, metric.replace("_", " ").capitalize())


def markers(ticket: ReplayedTicket, record: TicketRecord) -> list[EventMarker]:
    """What the timeline marks beside each clock's own due/warning/breach/met instants:
    severity changes, warnings already sent (a sent warning leaves the clock's `warn_at`),
    escalation pages and acks, notifications delivered."""
    out: list[EventMarker] = []
    for event in ticket.applied:
        if event.type == TicketEventType.SEVERITY_CHANGED:
            priority = str(event.data.get("priority", "?"))
            out.append((event.at, "severity", f"Severity changed to {priority}"))
    for emitted in ticket.emitted:
        if emitted.type == "sla.warning":
            out.append((emitted.at, "warning", f"{_title(emitted.metric)} warned"))
    out += [(mark.at, mark.kind, mark.label) for mark in record.marks]
    return sorted(out, key=lambda item: (item[0], item[1], item[2]))


def _done_before(clock: Clock) -> timedelta:
    """Business time used in the clock's earlier runs (before the current one)."""
    if clock.target is None or len(clock.runs) < 2:
        return ZERO
    calendar = clock.target.calendar
    since = clock.runs[-1][0]
    total = ZERO
    for start, end in clock.runs[:-1]:
        total += calendar.between(start, end if end is not None else since)
    return total


def why_due(clock: Clock, zone: tzinfo, now: datetime) -> str | None:
    """The arithmetic behind the clock's due time, or why it has none; None without a target
    or before it ever ran."""
    target = clock.target
    if target is None or not clock.runs or clock.phase in ("idle", "cancelled"):
        return None
    calendar = target.calendar
    if clock.phase == "paused":
        left = max(target.duration - clock.elapsed(now), ZERO)
        return (
            f"Not due while paused on the customer's side: {spell_duration(left)} of "
            f"{spell_duration(target.duration)} business time left when it runs again."
        )
    since = clock.runs[-1][0]
    done = _done_before(clock)
    left = target.duration - done
    if left <= ZERO:
        when = dual_label(since, calendar.zone, zone, with_date=True)
        spent = spell_duration(target.duration)
        return f"Its {spent} of business time ran out before {when}: due then."
    line = explain_due(since, left, calendar, zone)
    if clock.due_at is not None and calendar.add(since, left) != clock.due_at:
        # A severity change whose new target had already run out: due at the change.
        when = dual_label(clock.due_at, calendar.zone, zone, with_date=True)
        return f"The new target had already run out at the severity change: due at once, {when}."
    if done > ZERO:
        line = (
            f"{spell_duration(done)} of the {spell_duration(target.duration)} target ran "
            f"before the pause; the rest: {line}"
        )
    return line


def why_due_lines(state: TicketSla | None, zone: tzinfo, now: datetime) -> dict[str, str]:
    """Per metric (in the policy's metric order), the why-due line of each clock that has one."""
    if state is None:
        return {}
    out: dict[str, str] = {}
    order: dict[str, int] = {name: index for index, name in enumerate(METRICS)}
    for metric in sorted(state.clocks, key=lambda name: (order.get(name, len(order)), name)):
        line = why_due(state.clocks[metric], zone, now)
        if line is not None:
            out[metric] = line
    return out


def event_summary(event: HistoryEvent) -> str:
    """A short, readable account of an event's payload for the history table."""
    shown: Mapping[str, Any] = {
        key: value
        for key, value in event.data.items()
        if key not in ("ticket_id", "account", "policy") and not isinstance(value, dict | list)
    }
    return ", ".join(f"{key}: {value}" for key, value in sorted(shown.items()))
