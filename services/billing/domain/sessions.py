"""Logged minutes inside and outside a ticket's ESS sessions, and the prepaid time they draw.

Voice1: "Support will continue at emergency rates until" resolution, a stabilising
work-around, the customer stopping ESS, or "Prepaid/or allocated support time has expired".
So a minute of work is at emergency rates when it lies inside a session, and prepaid time is
drawn minute by minute in time order: the session ends at the instant it runs out, and what
follows is outside it (standard rates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.billing.domain.history import Work

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Split:
    inside: int
    """Minutes inside ESS sessions (after prepaid time ran out: not inside any more)."""
    outside: int
    prepaid: int
    """Minutes of `inside` drawn from prepaid time."""
    prepaid_ran_out_at: datetime | None = None


def _minutes(span: Span) -> int:
    return int((span[1] - span[0]).total_seconds() // 60)


def _overlaps(work: Span, sessions: Sequence[tuple[datetime, datetime | None]]) -> list[Span]:
    spans = []
    for start, end in sessions:
        lo = max(work[0], start)
        hi = work[1] if end is None else min(work[1], end)
        if hi > lo:
            spans.append((lo, hi))
    return spans


def split(
    work: Sequence[Work],
    sessions: Sequence[tuple[datetime, datetime | None]],
    prepaid_minutes: int | None,
) -> Split:
    """Whole minutes of `work` inside and outside `sessions`, drawing `prepaid_minutes`
    (None: no prepaid time) from the inside minutes in time order."""
    inside_spans: list[Span] = []
    total = 0
    for item in work:
        total += item.minutes
        inside_spans += _overlaps((item.started_at, item.ended_at), sessions)
    inside_spans.sort()
    inside = sum(_minutes(span) for span in inside_spans)
    if prepaid_minutes is None or inside <= prepaid_minutes:
        prepaid = inside if prepaid_minutes is not None else 0
        return Split(inside, total - inside, prepaid)
    left = max(prepaid_minutes, 0)
    ran_out = inside_spans[0][0]
    for span in inside_spans:
        length = _minutes(span)
        if length >= left:
            ran_out = span[0] + timedelta(minutes=left)
            break
        left -= length
    drawn = max(prepaid_minutes, 0)
    return Split(drawn, total - drawn, drawn, ran_out)
