"""Derived SLA events -> records for `ticketflow.sla-events` and `ticketflow.ticket-commands`.

The record body is built as a plain dict in the shape of `shared.events.sla.SlaEvent` (the
published contract, checked by the tests) rather than through the pydantic model: this runs for
every derived event on the SLA service's hot path.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.sla.domain.processing import Traced
from services.sla.domain.tracked import Tracked
from shared.commands import TicketCommand
from shared.events.sla import sla_event_id
from shared.sla.report import json_value, utc_z

COMMAND_OF = {
    "sla.close_by_timeout_due": "close_by_timeout",
    "sla.severity_downgrade_proposed": "severity_downgrade",
}


def sla_event(tracked: Tracked, traced: Traced, emitted_at: datetime) -> dict[str, Any]:
    """The JSON body of one SLA event (see `SlaEvent`)."""
    emitted = traced.emitted
    sla = tracked.sla
    assert sla is not None, "derived events come from a tracked ticket's SLA state"
    return {
        "id": str(sla_event_id(tracked.ticket_id, emitted.type, emitted.metric, emitted.at)),
        "type": emitted.type,
        "ticket_id": tracked.ticket_id,
        "ticket_number": tracked.number,
        "account": tracked.account,
        "policy": tracked.policy,
        "priority": sla.priority,
        "plan": sla.plan,
        "metric": emitted.metric,
        "at": utc_z(emitted.at),
        "emitted_at": utc_z(emitted_at),
        "based_on_version": sla.version,
        "causation_id": traced.causation_id,
        "data": json_value(emitted.data) if emitted.data else {},
    }


def command_for(event: dict[str, Any]) -> TicketCommand | None:
    """The ticket command an SLA event asks intake to carry out, if any.

    The command id is the SLA event's (deterministic) id, so a re-emitted event yields the same
    command and intake applies it once.
    """
    kind = COMMAND_OF.get(event["type"])
    if kind is None:
        return None
    data = event["data"]
    return TicketCommand(
        id=uuid.UUID(event["id"]),
        type=kind,
        ticket_id=uuid.UUID(event["ticket_id"]),
        based_on_version=int(data.get("based_on_version", event["based_on_version"])),
        issued_at=datetime.fromisoformat(event["emitted_at"]),
        due_at=datetime.fromisoformat(event["at"]),
        priority=data.get("to"),
        reason=(
            "no answer to the closure request within the confirmation window"
            if kind == "close_by_timeout"
            else f"customer did not answer within the response time; {data.get('from')} -> "
            f"{data.get('to')}"
        ),
    )
