"""A month's compliance report from the console's own copy of the ticket events: every
ticket of the viewer's accounts replayed through the SLA core as of the month's end (or now),
with the functions `ticketflow report compliance` uses on intake's event store, so both print
the same figures once the console has caught up.

Only the events the SLA core would fold count: a ticket's events in version order up to the
first gap (those past it are still in flight on the topic); a ticket whose opening has not
arrived yet counts nowhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.console.domain.compliance import Report, Tally, compliance, evaluation_instant
from services.console.domain.ticket_view import applicable
from services.console.service_layer.ports import ReadModel
from shared.events.types import TicketEventType
from shared.policy import Policy


@dataclass(frozen=True, slots=True)
class MonthlyCompliance:
    report: Report
    as_of: datetime
    """The instant the clocks were read at."""
    skipped: Mapping[str, int]
    """Tickets left out, by reason (unknown policy, unreadable history)."""
    incomplete: int
    """Tickets with events held past a gap in their sequence, or without their opening."""


async def monthly_compliance(
    model: ReadModel,
    policies: Mapping[str, Policy],
    accounts: frozenset[str] | None,
    month: str,
    now: datetime,
) -> MonthlyCompliance:
    """The report of `month` over the tickets of `accounts` (None: every account)."""
    instant = evaluation_instant(month, now)
    tally = Tally(instant, policies)
    incomplete = 0
    async for facts, events in model.histories(accounts):
        applied, held = applicable(events)
        opened = bool(applied) and applied[0].type == TicketEventType.OPENED
        if held or not opened:
            incomplete += 1
        if not opened:
            continue
        tally.add(facts.ticket_id, facts.policy, (event.timeline_event() for event in applied))
    return MonthlyCompliance(compliance(tally.outcomes, month), instant, tally.skipped, incomplete)
