"""Monthly SLA compliance: per policy, priority and metric, how many clocks were met, breached
or are still running, the met percentage, the time to first response at p50 and p90, and the
breaches listed. The console's live projection and `ticketflow report compliance` (offline,
from the event store) both feed `compliance` with `outcomes_of` the SLA core's state, so the
page and the command print the same figures.

Decisions (issue 19):

- **Months are UTC calendar months**, `YYYY-MM`, half-open: `[first instant, next month's
  first instant)` (as billing's statements).
- **A clock counts in the month of its deadline**, not of the ticket's opening: the instant it
  breached when it breached (a breach happens at the deadline), else its due time; a clock
  met while paused (it has no due time then) counts in the month it was met. So a month's
  figures are about the deadlines that fell in it, and once the month is over every one of
  them is decided (met or breached): at the month's end a clock due inside it has either
  stopped or fired. A clock that is paused (awaiting the customer) without having breached
  has no deadline yet and counts nowhere until it runs again; an idle or cancelled clock, or
  one without a target, never counts. Every metric is reported as the SLA core's clock
  status says, under its own name: `customer_response` is the customer's clock (Voximplant's
  answer to an information request), so its breaches are the customer's.
- **The state is read as of `evaluation_instant(month, now)`**: the month's end, or now when
  the month is not over yet (the earlier of the two). Only events with an event time before
  that instant are folded, as the store knows them now (an event recorded late still counts
  at its event time).
- **Priority** is the ticket's priority at that instant (after any severity change); policies
  are grouped by id (every version of a policy together).
- **Met %** = met / (met + breached) x 100, rounded half up to one decimal (`66.65` ->
  `66.7`); running clocks are not counted in it; `None` when nothing was decided yet.
- **Time to first response** is wall-clock time from the ticket's opening (the
  `ticket.opened` event time, not the clock's start after a cut-off) to the first response,
  in seconds: what a support lead reads, and the same in every calendar. p50 and p90 are
  nearest-rank percentiles (the smallest observed value with at least p % of the values at or
  below it) over the first-response clocks counted in the row that were answered, in time or
  late; `None` when none was answered. Only `first_response` rows carry them.

Output is ordered: rows by policy id, priority (most severe first) and metric (in
`shared.policy.METRICS` order); breaches by breach instant, ticket and metric. Numbers that
are not counts are decimal strings in JSON and CSV.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from shared.calendar.table import duration_micros
from shared.policy import METRICS, Policy
from shared.sla import TicketSla, TimelineEvent, replay
from shared.sla.clock import Clock

Outcome = Literal["met", "breached", "running"]
MONTH = re.compile(r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$")
FIRST_RESPONSE = "first_response"
ONE_DECIMAL = Decimal("0.1")
PERCENTILES = (50, 90)


@dataclass(frozen=True, slots=True)
class MetricOutcome:
    """One ticket's clock for one metric, as the compliance report needs it."""

    ticket_id: str
    policy: str
    """The policy's id (`voximplant`), not its pinned reference."""
    priority: str
    priority_rank: int
    """Index of the priority in the policy's list: 0 is the most severe."""
    metric: str
    outcome: Outcome
    deadline: datetime
    """The instant that places the clock in a month (see the module docstring)."""
    opened_at: datetime
    due_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None


@dataclass(frozen=True, slots=True)
class Row:
    policy: str
    priority: str
    metric: str
    tickets: int
    """Clocks with a target counted this month: met + breached + running."""
    met: int
    breached: int
    running: int
    met_percent: Decimal | None
    first_response_p50_seconds: Decimal | None
    first_response_p90_seconds: Decimal | None


@dataclass(frozen=True, slots=True)
class Breach:
    ticket_id: str
    policy: str
    priority: str
    metric: str
    due_at: datetime
    """The clock's due time as of the report (its breach instant when it has none, e.g.
    paused after the breach)."""
    breached_at: datetime
    met_at: datetime | None
    """When it was answered after all, if it was."""


@dataclass(frozen=True, slots=True)
class Report:
    month: str
    rows: tuple[Row, ...]
    breaches: tuple[Breach, ...]


# --- months -----------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """`[start, end)` of a `YYYY-MM` month in UTC; ValueError for anything else."""
    found = MONTH.fullmatch(month)
    if found is None:
        raise ValueError(f"{month!r}: a month is YYYY-MM (years 1900-2999), e.g. 2026-11")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def evaluation_instant(month: str, now: datetime) -> datetime:
    """The instant a month's report reads the clocks at: its end, or `now` if earlier."""
    return min(month_bounds(month)[1], now)


# --- per-ticket outcomes ----------------------------------------------------------------------


def outcomes_of(state: TicketSla, policy: Policy, ticket_id: str) -> list[MetricOutcome]:
    """The clocks of one ticket that count in some month, in METRICS order."""
    if not state.accepted:
        return []
    rank = policy.priorities.index(state.priority) if state.priority in policy.priorities else 0
    out: list[MetricOutcome] = []
    for metric in METRICS:
        clock = state.clock(metric)
        if clock is None:
            continue
        placed = _placed(clock)
        if placed is None:
            continue
        outcome, deadline = placed
        out.append(
            MetricOutcome(
                ticket_id=ticket_id,
                policy=policy.id,
                priority=state.priority,
                priority_rank=rank,
                metric=metric,
                outcome=outcome,
                deadline=deadline,
                opened_at=state.opened_at,
                due_at=clock.due_at,
                met_at=clock.met_at,
                breached_at=clock.breached_at,
            )
        )
    return out


def _placed(clock: Clock) -> tuple[Outcome, datetime] | None:
    """(outcome, the instant that places it in a month), or None when it counts nowhere."""
    if clock.target is None:
        return None
    if clock.breached_at is not None:
        return "breached", clock.breached_at
    if clock.phase == "met":
        at = clock.due_at if clock.due_at is not None else clock.met_at
        return ("met", at) if at is not None else None
    if clock.phase == "running" and clock.due_at is not None:
        return "running", clock.due_at
    return None


def replayed_outcomes(
    ticket_id: str, events: Iterable[TimelineEvent], policy: Policy, as_of: datetime
) -> list[MetricOutcome]:
    """`outcomes_of` one ticket's history folded up to `as_of` (events before it only, then
    timers due before it fired); no outcome for a ticket opened at or after `as_of`."""
    before = [event for event in events if event.at < as_of]
    if not before:
        return []
    return outcomes_of(replay(before, policy, as_of).state, policy, ticket_id)


@dataclass(slots=True)
class Tally:
    """Every ticket's outcomes as of one instant, and the tickets that could not count (by
    reason): what the console's report and `ticketflow report compliance` both gather."""

    as_of: datetime
    policies: Mapping[str, Policy]
    """Every pinned policy by its reference (`voipster@1`)."""
    outcomes: list[MetricOutcome] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, ticket_id: str, policy_ref: str, events: Iterable[TimelineEvent]) -> None:
        """One ticket's history: its outcomes, or a skip counted when its policy is unknown
        or its history cannot be replayed."""
        policy = self.policies.get(policy_ref)
        if policy is None:
            self._skip(f"unknown policy {policy_ref!r}")
            return
        try:
            self.outcomes += replayed_outcomes(ticket_id, events, policy, self.as_of)
        except ValueError as exc:
            self._skip(f"unreadable history ({exc})")

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


# --- the report -------------------------------------------------------------------------------


def compliance(tickets: Iterable[MetricOutcome], month: str) -> Report:
    """The month's report from every ticket's outcomes (those of other months are ignored)."""
    start, end = month_bounds(month)
    groups: dict[tuple[str, int, str, int, str], list[MetricOutcome]] = {}
    breaches: list[Breach] = []
    order: dict[str, int] = {metric: index for index, metric in enumerate(METRICS)}
    for item in tickets:
        if not start <= item.deadline < end:
            continue
        key = (item.policy, item.priority_rank, item.priority, order[item.metric], item.metric)
        groups.setdefault(key, []).append(item)
        if item.outcome == "breached" and item.breached_at is not None:
            breaches.append(_breach(item, item.breached_at))
    rows = tuple(_row(key[0], key[2], key[4], groups[key]) for key in sorted(groups))
    breaches.sort(key=lambda b: (b.breached_at, b.ticket_id, order[b.metric]))
    return Report(month, rows, tuple(breaches))


def _breach(item: MetricOutcome, breached_at: datetime) -> Breach:
    return Breach(
        ticket_id=item.ticket_id,
        policy=item.policy,
        priority=item.priority,
        metric=item.metric,
        due_at=item.due_at if item.due_at is not None else breached_at,
        breached_at=breached_at,
        met_at=item.met_at,
    )


def _row(policy: str, priority: str, metric: str, items: Sequence[MetricOutcome]) -> Row:
    met = sum(1 for item in items if item.outcome == "met")
    breached = sum(1 for item in items if item.outcome == "breached")
    running = len(items) - met - breached
    p50 = p90 = None
    if metric == FIRST_RESPONSE:
        waits = sorted(item.met_at - item.opened_at for item in items if item.met_at is not None)
        p50, p90 = (percentile(waits, p) for p in PERCENTILES)
    return Row(
        policy=policy,
        priority=priority,
        metric=metric,
        tickets=len(items),
        met=met,
        breached=breached,
        running=running,
        met_percent=met_percent(met, breached),
        first_response_p50_seconds=p50,
        first_response_p90_seconds=p90,
    )


def met_percent(met: int, breached: int) -> Decimal | None:
    """met / (met + breached) in percent, one decimal, half up; None when both are 0."""
    decided = met + breached
    if decided == 0:
        return None
    return (Decimal(100 * met) / Decimal(decided)).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def percentile(sorted_waits: Sequence[timedelta], p: int) -> Decimal | None:
    """Nearest-rank percentile of ascending durations, in exact seconds; None when empty."""
    if not sorted_waits:
        return None
    rank = max(1, math.ceil(p * len(sorted_waits) / 100))
    return seconds(sorted_waits[rank - 1])


def seconds(duration: timedelta) -> Decimal:
    """A duration in exact decimal seconds (`600`, `600.5`)."""
    return Decimal(duration_micros(duration)) / Decimal(1_000_000)


# --- export -----------------------------------------------------------------------------------


def _utc(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data: decimals as strings, instants as UTC `...Z`."""
    return {
        "month": report.month,
        "rows": [
            {
                "policy": row.policy,
                "priority": row.priority,
                "metric": row.metric,
                "tickets": row.tickets,
                "met": row.met,
                "breached": row.breached,
                "running": row.running,
                "met_percent": _text(row.met_percent),
                "first_response_p50_seconds": _text(row.first_response_p50_seconds),
                "first_response_p90_seconds": _text(row.first_response_p90_seconds),
            }
            for row in report.rows
        ],
        "breaches": [
            {
                "ticket_id": breach.ticket_id,
                "policy": breach.policy,
                "priority": breach.priority,
                "metric": breach.metric,
                "due_at": _utc(breach.due_at),
                "breached_at": _utc(breach.breached_at),
                "met_at": _utc(breach.met_at),
            }
            for breach in report.breaches
        ],
    }


def to_json(report: Report) -> str:
    return json.dumps(report_json(report), indent=2) + "\n"


CSV_COLUMNS = (
    "month",
    "policy",
    "priority",
    "metric",
    "tickets",
    "met",
    "breached",
    "running",
    "met_percent",
    "first_response_p50_seconds",
    "first_response_p90_seconds",
)
BREACH_CSV_COLUMNS = (
    "month",
    "ticket_id",
    "policy",
    "priority",
    "metric",
    "due_at",
    "breached_at",
    "met_at",
)


def to_csv(report: Report) -> str:
    """One row per policy, priority and metric (RFC 4180, CRLF line ends; empty: none)."""
    body = report_json(report)
    return _csv(CSV_COLUMNS, [{"month": report.month, **row} for row in body["rows"]])


def breaches_to_csv(report: Report) -> str:
    """One row per breach, in the report's order."""
    body = report_json(report)
    return _csv(BREACH_CSV_COLUMNS, [{"month": report.month, **b} for b in body["breaches"]])


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[column] is None else row[column] for column in columns])
    return out.getvalue()
