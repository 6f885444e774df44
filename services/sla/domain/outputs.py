"""Derived SLA events -> records for `ticketflow.sla-events` and `ticketflow.ticket-commands`."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.sla.domain.processing import Caused
from services.sla.domain.tracked import Tracked
from shared.commands import TicketCommand
from shared.events.sla import SlaEvent, sla_event_id
from shared.sla.report import json_value

COMMAND_OF = {
    "sla.close_by_timeout_due": "close_by_timeout",
    "sla.severity_downgrade_proposed": "severity_downgrade",
}


def sla_event(tracked: Tracked, caused: Caused, emitted_at: datetime) -> SlaEvent:
    derived = caused.derived
    sla = tracked.sla
    assert sla is not None, "derived events come from a tracked ticket's SLA state"
    return SlaEvent(
        id=sla_event_id(tracked.ticket_id, derived.type, derived.metric, derived.at),
        type=derived.type,
        ticket_id=tracked.ticket_id,
        account=tracked.account,
        policy=tracked.policy,
        priority=sla.priority,
        plan=sla.plan,
        metric=derived.metric,
        at=derived.at,
        emitted_at=emitted_at,
        based_on_version=sla.version,
        causation_id=uuid.UUID(caused.causation_id) if caused.causation_id else None,
        data=json_value(derived.data),
    )


def command_for(event: SlaEvent) -> TicketCommand | None:
    """The ticket command an SLA event asks intake to carry out, if any.

    The command id is the SLA event's (deterministic) id, so a re-emitted event yields the same
    command and intake applies it once.
    """
    kind = COMMAND_OF.get(event.type)
    if kind is None:
        return None
    return TicketCommand(
        id=event.id,
        type=kind,
        ticket_id=uuid.UUID(event.ticket_id),
        based_on_version=int(event.data.get("based_on_version", event.based_on_version)),
        issued_at=event.emitted_at,
        due_at=event.at,
        priority=event.data.get("to"),
        reason=(
            "no answer to the closure request within the confirmation window"
            if kind == "close_by_timeout"
            else f"customer did not answer within the response time; {event.data.get('from')} -> "
            f"{event.data.get('to')}"
        ),
    )
