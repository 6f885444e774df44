"""Replay: rebuild SLA state from history with the pure core, and compare it.

Used by `ticketflow sla replay` to check the live state against the history, and to answer
"which tickets would flip between met and breached" under a new policy before activating it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.policy import Policy
from shared.sla import TicketSla, TimelineEvent, replay

FINAL = ("met", "breached")


def fold_ticket(events: Iterable[TimelineEvent], policy: Policy, now: datetime) -> TicketSla:
    """The ticket's SLA state as of `now` (timers due before `now` fired)."""
    return replay(events, policy, now).state


def statuses(state: TicketSla) -> dict[str, str]:
    """metric -> running|paused|met|breached|none."""
    return {metric: clock.status for metric, clock in state.clocks.items()}


@dataclass(frozen=True, slots=True)
class Difference:
    ticket_id: str
    metric: str
    live: str | None
    replayed: str | None


def differences(
    live: Mapping[str, Mapping[str, str]], replayed: Mapping[str, Mapping[str, str]]
) -> list[Difference]:
    """Per ticket and metric, where the live state and the replay disagree."""
    out: list[Difference] = []
    for ticket_id, replayed_statuses in replayed.items():
        live_statuses = live.get(ticket_id)
        if live_statuses is None:
            out.append(Difference(ticket_id, "*", None, "present"))
            continue
        for metric in sorted(set(live_statuses) | set(replayed_statuses)):
            mine, theirs = live_statuses.get(metric), replayed_statuses.get(metric)
            if mine != theirs:
                out.append(Difference(ticket_id, metric, mine, theirs))
    return out


@dataclass(frozen=True, slots=True)
class Flip:
    ticket_id: str
    metric: str
    before: str
    after: str


def flips(
    current: Mapping[str, Mapping[str, str]], candidate: Mapping[str, Mapping[str, str]]
) -> list[Flip]:
    """Metrics that move between met and breached (either way) under the candidate policy."""
    out: list[Flip] = []
    for ticket_id, after in candidate.items():
        before = current.get(ticket_id, {})
        for metric, status in after.items():
            was = before.get(metric)
            if was in FINAL and status in FINAL and was != status:
                out.append(Flip(ticket_id, metric, was, status))
    return out
