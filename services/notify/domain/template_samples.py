"""Sample contexts for each email template, shaped like the ones the planner builds: `ticket`
(notify's row of the ticket, `{}` when notify never saw it open), `event` (the event as
published: an envelope dumped without its unset fields, an escalation event or a billing
event) and `account`.

An account's template is checked against two of them before it is stored: the complete sample
(every field an event of that type can carry, set) with undefined names refused, so that a
typo such as `tikcet` or `event.metirc` is caught; and the sparse sample (every optional field
unset, as real events often are) rendered as at send time, so that `event.reason.upper()` on
an event without a reason is caught too. Pure data, built fresh on every call."""

from __future__ import annotations

import copy
from typing import Any

from services.notify.domain.routing import (
    ACCOUNT_TEMPLATES,
    CONTACT_TEMPLATES,
    ESCALATION_TEMPLATES,
)

ACCOUNT = "acme"
TICKET_ID = "3f1c9a52-7d0e-4b8a-9c61-2e5f8d4a7b10"
AT = "2026-11-17T12:00:00Z"

_TICKET_DATA: dict[str, dict[str, Any]] = {
    "ticket.opened": {
        "channel": "web",
        "priority": "sev2",
        "plan": "gold",
        "spam": False,
        "entitled": True,
        "approved_contact": True,
        "contact": "noc@customer.example",
        "ticket_number": "TF-4821-93",
        "subject": "No audio on outbound calls",
        "description": "Since 09:00 every outbound call has one-way audio.",
        "flags": [],
        "target_overrides": {},
    },
    "ticket.closure_requested": {"note": "Carrier route fixed; please confirm."},
    "ticket.closed_by_timeout": {"based_on_version": 7, "requested_at": AT},
    "ticket.severity_changed": {
        "priority": "sev3",
        "reason": "no answer to our information request within the response time",
    },
}
_TICKET_DATA_REQUIRED = {
    "ticket.opened": (
        "channel",
        "priority",
        "spam",
        "entitled",
        "approved_contact",
        "flags",
        "target_overrides",
    ),
    "ticket.closure_requested": (),
    "ticket.closed_by_timeout": ("based_on_version",),
    "ticket.severity_changed": ("priority",),
}
_ENVELOPE_OPTIONAL = ("recorded_at", "correlation_id", "causation_id", "traceparent", "tracestate")
_ESCALATION_OPTIONAL = ("ticket_number", "reason", "deadline", "causation_id")

TICKET_EVENT_OF = {
    **{template: event_type for event_type, template in CONTACT_TEMPLATES.items()},
    "severity_downgraded": "ticket.severity_changed",
}
ESCALATION_EVENT_OF = {
    template: event_type for event_type, template in ESCALATION_TEMPLATES.items()
}
BILLING_EVENT_OF = {template: event_type for event_type, template in ACCOUNT_TEMPLATES.items()}

# The body each billing type carries (billing always sets it: it is what the event says);
# the other bodies are never set on that type.
_BILLING_BODY: dict[str, tuple[str, dict[str, Any]]] = {
    "prepaid.low": ("prepaid", {"balance_minutes": 45, "low_at_minutes": 60}),
    "prepaid.exhausted": ("prepaid", {"balance_minutes": 0, "low_at_minutes": 60}),
    "tam.budget_exhausted": (
        "tam",
        {"month": "2026-11", "used_minutes": 495, "budget_hours": 8},
    ),
}


def _ticket(*, complete: bool) -> dict[str, Any]:
    return {
        "ticket_id": TICKET_ID,
        "account": ACCOUNT,
        "number": "TF-4821-93" if complete else None,
        "contact": "noc@customer.example",
        "subject": "No audio on outbound calls" if complete else None,
        "priority": "sev2" if complete else None,
    }


def _envelope(event_type: str, *, complete: bool) -> dict[str, Any]:
    data = copy.deepcopy(_TICKET_DATA[event_type])
    if not complete:
        data = {key: data[key] for key in _TICKET_DATA_REQUIRED[event_type]}
    event: dict[str, Any] = {
        "id": "0b6f3c1e-5a2d-4e8f-9b7a-1c2d3e4f5a6b",
        "type": event_type,
        "source": "sla" if event_type == "ticket.severity_changed" else "intake",
        "subject": TICKET_ID,
        "time": AT,
        "recorded_at": AT,
        "sequence": 3,
        "account": ACCOUNT,
        "policy": "voximplant@1",
        "schema_version": 1,
        "correlation_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        "causation_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "ticketflow=sample",
        "data": data,
    }
    if not complete:
        for key in _ENVELOPE_OPTIONAL:
            del event[key]
    return event


def _escalation(event_type: str, *, complete: bool) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9",
        "type": event_type,
        "escalation_id": "c1b2a394-8576-4e3d-a2f1-0e9d8c7b6a54",
        "ticket_id": TICKET_ID,
        "ticket_number": "TF-4821-93",
        "account": ACCOUNT,
        "policy": "voximplant@1",
        "priority": "sev2",
        "metric": "first_response",
        "trigger": "sla.breached",
        "reason": "response_time_exceeded",
        "level": 1,
        "recipients": ["oncall@acme.example"],
        "critical": False,
        "deadline": AT,
        "at": AT,
        "causation_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        "data": {},
    }
    if not complete:
        event.update(dict.fromkeys(_ESCALATION_OPTIONAL))
        event["recipients"] = []
    return event


def _billing(event_type: str) -> dict[str, Any]:
    """A billing event as published: every field is set except the bodies other types
    carry (so the complete and the sparse sample differ only in `ticket`)."""
    event: dict[str, Any] = {
        "id": "2d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a",
        "type": event_type,
        "account": ACCOUNT,
        "policy": "voximplant@1" if event_type.startswith("tam.") else "voice1@1",
        "ticket_id": TICKET_ID,
        "at": AT,
        "causation_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        "charge": None,
        "prepaid": None,
        "tam": None,
    }
    key, body = _BILLING_BODY[event_type]
    event[key] = dict(body)
    return event


def sample_context(name: str, *, complete: bool = True) -> dict[str, Any]:
    """The sample context of template `name` (one of routing.TEMPLATES); `KeyError` if none."""
    if name in BILLING_EVENT_OF:
        return {
            "ticket": _ticket(complete=True) if complete else {},
            "event": _billing(BILLING_EVENT_OF[name]),
            "account": ACCOUNT,
        }
    if name in TICKET_EVENT_OF:
        return {
            "ticket": _ticket(complete=complete),
            "event": _envelope(TICKET_EVENT_OF[name], complete=complete),
            "account": ACCOUNT,
        }
    event_type = ESCALATION_EVENT_OF[name]
    return {
        "ticket": _ticket(complete=True) if complete else {},
        "event": _escalation(event_type, complete=complete),
        "account": ACCOUNT,
    }
