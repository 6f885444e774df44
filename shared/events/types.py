"""Typed payloads (`data`) of every event type, their schema versions, and upcasters.

The wire type is always the explicit string (`ticket.opened`), never a Python class path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    PHONE = "phone"
    API = "api"


class EscalationReason(StrEnum):
    """Why a customer escalates (voximplant 9.1)."""

    RESPONSE_TIME_EXCEEDED = "response_time_exceeded"
    SLA_VIOLATED = "sla_violated"
    SEVERITY_DISPUTED = "severity_disputed"
    QUALITY = "quality"


class TicketEventType(StrEnum):
    """Every ticket event type, by its wire name (`ticket.opened`): the one place the
    names are written."""

    OPENED = "ticket.opened"
    RESPONDED = "ticket.responded"
    AWAITING_CUSTOMER = "ticket.awaiting_customer"
    CUSTOMER_REPLIED = "ticket.customer_replied"
    SEVERITY_CHANGED = "ticket.severity_changed"
    ASSIGNED = "ticket.assigned"
    WORKAROUND_PROVIDED = "ticket.workaround_provided"
    RESOLVED = "ticket.resolved"
    CLOSURE_REQUESTED = "ticket.closure_requested"
    CLOSED = "ticket.closed"
    CLOSED_BY_TIMEOUT = "ticket.closed_by_timeout"
    REOPENED = "ticket.reopened"
    ESCALATION_REQUESTED = "ticket.escalation_requested"
    RFO_DELIVERED = "ticket.rfo_delivered"
    COMMENT_ADDED = "ticket.comment_added"


class TicketStatus(StrEnum):
    """Where a ticket stands (intake's read model, the SLA core's state): the one type."""

    OPEN = "open"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVED = "resolved"
    CLOSURE_REQUESTED = "closure_requested"
    CLOSED = "closed"


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TicketOpened(Payload):
    channel: Channel
    priority: str = Field(min_length=1)
    plan: str | None = None
    spam: bool = False
    entitled: bool = Field(
        default=True, description="Valid support agreement / order / plan at opening"
    )
    approved_contact: bool = Field(
        default=True, description="The contact was on the account's approved list at opening"
    )
    contact: str | None = Field(default=None, description="Email of the contact who opened it")
    ticket_number: str | None = None
    subject: str | None = None
    description: str | None = None
    flags: list[str] = Field(
        default_factory=list, description="Intake decisions, e.g. `prepay_required`"
    )
    target_overrides: dict[str, float] = Field(
        default_factory=dict,
        description="Per-metric target in hours from the account's order, where the policy "
        "allows one (voximplant incident resolution)",
    )


class TicketResponded(Payload):
    by: str | None = None
    note: str | None = None


class TicketAwaitingCustomer(Payload):
    reason: str | None = None


class TicketCustomerReplied(Payload):
    body: str | None = None
    contact: str | None = None


class TicketSeverityChanged(Payload):
    priority: str = Field(min_length=1)
    reason: str | None = None


class TicketAssigned(Payload):
    assignee: str = Field(min_length=1)


class TicketWorkaroundProvided(Payload):
    note: str | None = None


class TicketResolved(Payload):
    note: str | None = None


class TicketClosureRequested(Payload):
    note: str | None = None


class TicketClosed(Payload):
    by: str | None = None


class TicketClosedByTimeout(Payload):
    based_on_version: int = Field(ge=1)
    requested_at: datetime | None = None


class TicketReopened(Payload):
    reason: str | None = None


class TicketEscalationRequested(Payload):
    reason: EscalationReason
    note: str | None = None


class TicketRfoDelivered(Payload):
    summary: str | None = None
    url: str | None = None


class TicketCommentAdded(Payload):
    body: str = Field(min_length=1)
    public: bool = True


@dataclass(frozen=True, slots=True)
class EventSpec:
    model: type[Payload]
    schema_version: int = 1


TICKET_EVENT_TYPES: dict[str, EventSpec] = {  # plain str keys: orjson refuses enum keys
    TicketEventType.OPENED.value: EventSpec(TicketOpened),
    TicketEventType.RESPONDED.value: EventSpec(TicketResponded),
    TicketEventType.AWAITING_CUSTOMER.value: EventSpec(TicketAwaitingCustomer),
    TicketEventType.CUSTOMER_REPLIED.value: EventSpec(TicketCustomerReplied),
    TicketEventType.SEVERITY_CHANGED.value: EventSpec(TicketSeverityChanged),
    TicketEventType.ASSIGNED.value: EventSpec(TicketAssigned),
    TicketEventType.WORKAROUND_PROVIDED.value: EventSpec(TicketWorkaroundProvided),
    TicketEventType.RESOLVED.value: EventSpec(TicketResolved),
    TicketEventType.CLOSURE_REQUESTED.value: EventSpec(TicketClosureRequested),
    TicketEventType.CLOSED.value: EventSpec(TicketClosed),
    TicketEventType.CLOSED_BY_TIMEOUT.value: EventSpec(TicketClosedByTimeout),
    TicketEventType.REOPENED.value: EventSpec(TicketReopened),
    TicketEventType.ESCALATION_REQUESTED.value: EventSpec(TicketEscalationRequested),
    TicketEventType.RFO_DELIVERED.value: EventSpec(TicketRfoDelivered),
    TicketEventType.COMMENT_ADDED.value: EventSpec(TicketCommentAdded),
}

EVENT_TYPES: dict[str, EventSpec] = dict(TICKET_EVENT_TYPES)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning `data` of `from_version` into `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
        _UPCASTERS[key] = fn
        return fn

    return register


def unregister_upcaster(event_type: str, from_version: int) -> None:
    _UPCASTERS.pop((event_type, from_version), None)


def upcast_data(event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Apply upcasters one version at a time until `data` is current."""
    target = EVENT_TYPES[event_type].schema_version
    while version < target:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise ValueError(f"no upcaster for {event_type} from schema_version {version}")
        data = step(data)
        version += 1
    return data


def parse_data(event_type: str, data: dict[str, Any]) -> Payload:
    """Validate `data` of the current schema version for `event_type`."""
    spec = EVENT_TYPES.get(event_type)
    if spec is None:
        raise ValueError(f"unknown event type {event_type!r}")
    return spec.model.model_validate(data)
