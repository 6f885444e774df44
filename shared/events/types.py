"""Typed payloads (`data`) of every event type, their schema versions, and upcasters.

The wire type is always the explicit string (`ticket.opened`), never a Python class path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    PHONE = "phone"
    API = "api"
    TAM = "tam"
    """Sent by the account's Technical Account Manager on the client's behalf (voximplant 8.1.3)."""


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
    WORK_LOGGED = "ticket.work_logged"
    DETERMINATION_RECORDED = "ticket.determination_recorded"
    ESS_STARTED = "ticket.ess_started"
    ESS_STOPPED = "ticket.ess_stopped"
    FEE_QUOTED = "ticket.fee_quoted"
    QUOTE_ANSWERED = "ticket.quote_answered"


class TicketStatus(StrEnum):
    """Where a ticket stands (intake's read model, the SLA core's state): the one type."""

    OPEN = "open"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVED = "resolved"
    CLOSURE_REQUESTED = "closure_requested"
    CLOSED = "closed"


class WorkRate(StrEnum):
    """The rate logged work is done at (what the provider documents price differently)."""

    STANDARD = "standard"
    OFF_HOURS = "off_hours"
    EMERGENCY = "emergency"
    TAM = "tam"


class Criticality(StrEnum):
    """The provider's determination of an emergency (voipster: "not critically impacting")."""

    CRITICAL = "critical"
    NOT_CRITICAL = "not_critical"


class Fault(StrEnum):
    """Whose fault the outage was (hosted-voice's off-hours P1 review)."""

    PROVIDER = "provider"
    CUSTOMER = "customer"


class Cause(StrEnum):
    """The cause found (kolmisoft: a bug is fixed for free; voice1: a SIP-trunk outage is free)."""

    BUG = "bug"
    SIP_TRUNK_OUTAGE = "sip_trunk_outage"
    OTHER = "other"


class EssStopReason(StrEnum):
    """Why Emergency Support Services stop (voice1: "Support will continue at emergency rates
    until" one of these)."""

    RESOLUTION = "resolution"
    WORKAROUND = "workaround"
    PREPAID_EXPIRED = "prepaid_expired"
    CUSTOMER_STOPPED = "customer_stopped"


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


class TicketWorkLogged(Payload):
    by: str = Field(min_length=1, max_length=200, description="Who worked")
    started_at: AwareDatetime = Field(description="When the work began")
    minutes: int = Field(ge=1, le=1440, description="How long, in whole minutes")
    rate: WorkRate = Field(description="The rate it was done at")
    note: str | None = Field(default=None, max_length=2000)


class TicketDeterminationRecorded(Payload):
    """One or more of the provider's determinations; a later one replaces an earlier one of
    the same kind (and so can void a charge assessed on it)."""

    criticality: Criticality | None = None
    fault: Fault | None = None
    cause: Cause | None = None
    by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_at_least(self) -> TicketDeterminationRecorded:
        if self.criticality is None and self.fault is None and self.cause is None:
            raise ValueError("give at least one of criticality, fault, cause")
        return self


class TicketEssStarted(Payload):
    by: str | None = Field(default=None, max_length=200)


class TicketEssStopped(Payload):
    reason: EssStopReason


class TicketFeeQuoted(Payload):
    quote_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    description: str = Field(min_length=1, max_length=2000)


class TicketQuoteAnswered(Payload):
    quote_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    approved: bool
    by: str | None = Field(default=None, max_length=200)


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
    TicketEventType.WORK_LOGGED.value: EventSpec(TicketWorkLogged),
    TicketEventType.DETERMINATION_RECORDED.value: EventSpec(TicketDeterminationRecorded),
    TicketEventType.ESS_STARTED.value: EventSpec(TicketEssStarted),
    TicketEventType.ESS_STOPPED.value: EventSpec(TicketEssStopped),
    TicketEventType.FEE_QUOTED.value: EventSpec(TicketFeeQuoted),
    TicketEventType.QUOTE_ANSWERED.value: EventSpec(TicketQuoteAnswered),
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
