"""HTTP API models (separate from the event payload models they map to)."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from services.intake.domain.lifecycle import ClosedReason, Resolution
from services.intake.domain.limits import MAX_HOURS
from shared.events.types import TICKET_EVENT_TYPES, Channel, Payload, TicketEventType
from shared.policy import METRICS

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


NO_NUL = r"^[^\x00]*$"


TargetHours = Annotated[float, Field(gt=0, le=MAX_HOURS, allow_inf_nan=False)]


def _reject_unstorable(value: Any, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'body'}: text must not contain NUL (\\u0000) characters")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"{path or 'body'}: text is not valid Unicode (a lone surrogate such as "
                    f"\\u{ord(value[exc.start]):04x} at character {exc.start}); it cannot be "
                    "encoded as UTF-8"
                ) from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path or 'body'}: numbers must be finite, not {value}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_unstorable(key, path)
            _reject_unstorable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_unstorable(item, f"{path}[{index}]")


def _storable_keys(values: Any) -> Any:
    if isinstance(values, dict):
        for key in values:
            _reject_unstorable(key, "body")
    return values


class ApiModel(BaseModel):
    """Request bodies. PostgreSQL text and jsonb cannot hold NUL characters, and nothing
    can encode a lone surrogate (`"\\udfff"` is valid JSON but not valid Unicode), so every
    string anywhere in a body (including free-form event `data`) is checked here, once, and
    the error names the field. So is every number: Python's JSON parser reads `NaN` and
    `Infinity`, which no SLA arithmetic or jsonb column can hold. Lengths are checked on the
    parsed body (`limits.py`)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_keys(cls, values: Any) -> Any:
        return _storable_keys(values)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        _reject_unstorable(value, info.field_name or "")
        return value


class OpenTicketBody(ApiModel):
    account: str = Field(min_length=1, examples=["acme-voip"])
    contact: str = Field(
        pattern=EMAIL,
        description="Email of the person opening the ticket",
        examples=["noc@acme.example"],
    )
    channel: Channel = Field(examples=["web"])
    priority: str = Field(min_length=1, examples=["normal"])
    plan: str | None = Field(default=None, description="Defaults to the account's plan")
    subject: str = Field(
        min_length=1,
        description="At most TICKETFLOW_MAX_SUBJECT_CHARS characters (default 1,000)",
        examples=["No dial tone on trunk 3"],
    )
    description: str = Field(
        default="", description="At most TICKETFLOW_MAX_TEXT_CHARS characters (default 65,536)"
    )
    occurred_at: datetime | None = Field(
        default=None,
        description="Event time when the ticket was raised earlier than it is logged "
        "(a phone ticket); at most 7 days back, never in the future",
    )
    spam: bool = Field(default=False, description="The email gateway flagged it as spam")


class TicketCreated(BaseModel):
    ticket_id: uuid.UUID
    number: str = Field(description="Human ticket number with a check digit")
    version: int
    status: str
    policy: str = Field(description="Pinned policy, id@version")
    priority: str
    plan: str | None
    flags: list[str]
    occurred_at: datetime


SYSTEM_ONLY = frozenset({TicketEventType.OPENED, TicketEventType.CLOSED_BY_TIMEOUT})
"""Events only intake itself (opening) or the SLA service (the closure timeout) write."""

EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    TicketEventType.RESPONDED: {"by": "noc-1", "note": "Looking at trunk 3 now"},
    TicketEventType.AWAITING_CUSTOMER: {"reason": "Need a SIP trace of a failing call"},
    TicketEventType.CUSTOMER_REPLIED: {"body": "Trace attached", "contact": "noc@acme.example"},
    TicketEventType.SEVERITY_CHANGED: {"priority": "high", "reason": "Second trunk down too"},
    TicketEventType.ASSIGNED: {"assignee": "tier2-voice"},
    TicketEventType.WORKAROUND_PROVIDED: {"note": "Calls rerouted over trunk 4"},
    TicketEventType.RESOLVED: {"note": "Carrier fixed the route"},
    TicketEventType.CLOSURE_REQUESTED: {"note": "Please confirm the fix"},
    TicketEventType.CLOSED: {"by": "noc@acme.example"},
    TicketEventType.REOPENED: {"reason": "Failing again since 14:00"},
    TicketEventType.ESCALATION_REQUESTED: {"reason": "sla_violated", "note": "Down for 3 hours"},
    TicketEventType.RFO_DELIVERED: {
        "summary": "Carrier routing fault",
        "url": "https://x.example/rfo",
    },
    TicketEventType.COMMENT_ADDED: {"body": "Customer called for an update", "public": False},
    TicketEventType.WORK_LOGGED: {
        "by": "noc-1",
        "started_at": "2026-11-07T03:10:00Z",
        "minutes": 90,
        "rate": "off_hours",
    },
    TicketEventType.DETERMINATION_RECORDED: {"fault": "customer", "by": "noc-lead"},
    TicketEventType.ESS_STARTED: {"by": "ess-engineer"},
    TicketEventType.ESS_STOPPED: {"reason": "workaround"},
    TicketEventType.FEE_QUOTED: {
        "quote_id": "q-2026-114",
        "amount": "450.00",
        "currency": "USD",
        "description": "Custom CDR export, 4.5 h of development",
    },
    TicketEventType.QUOTE_ANSWERED: {"quote_id": "q-2026-114", "approved": True},
}
"""One example `data` per event type a client may post, shown in the OpenAPI document."""


class AppendEvent(BaseModel):
    """What every appended event has; each event type's body narrows `type` and `data`.

    Not an ApiModel: a discriminator (`type`) cannot pass through a validator of every field.
    Its strings are all in `data`, checked as ApiModel checks every field."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_keys(cls, values: Any) -> Any:
        return _storable_keys(values)

    @field_validator("data", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        _reject_unstorable(value, "data")
        return value

    type: str = Field(description="The event type")
    occurred_at: datetime | None = Field(
        default=None,
        description="When it happened, if earlier than it is posted (at most 7 days back, "
        "never in the future); the time of posting otherwise",
    )
    data: Payload


def _append_body(event_type: str) -> type[AppendEvent]:
    """The request body that appends one `event_type`: its `type` is the discriminator, its
    `data` the event type's payload model (`shared/events/types.py`)."""
    payload = TICKET_EVENT_TYPES[event_type].model
    required = any(field.is_required() for field in payload.model_fields.values())
    example: dict[str, JsonValue] = {"type": event_type, "data": EVENT_EXAMPLES[event_type]}
    fields: dict[str, Any] = {
        "type": (Literal[event_type], Field(description="The event type")),
        "data": (
            payload,
            Field(description="The event's data")
            if required
            else Field(default_factory=payload, description="The event's data; may be omitted"),
        ),
    }
    words = event_type.removeprefix("ticket.").split("_")
    model = create_model(
        "Append" + "".join(word.title() for word in words),
        __base__=AppendEvent,
        __doc__=f"Append `{event_type}` to a ticket.",
        **fields,
    )
    model.model_config = {**model.model_config, "json_schema_extra": {"examples": [example]}}
    model.model_rebuild(force=True)
    return model


API_EVENT_TYPES = sorted(set(TICKET_EVENT_TYPES) - SYSTEM_ONLY)
APPEND_BODIES = {event_type: _append_body(event_type) for event_type in API_EVENT_TYPES}
if TYPE_CHECKING:
    AppendEventBody = AppendEvent
else:
    AppendEventBody = Annotated[
        Union[tuple(APPEND_BODIES.values())],  # noqa: UP007
        Field(discriminator="type"),
    ]
"""Any event a client may append, told apart by `type` (a discriminated union)."""
APPEND_EXAMPLES = {  # plain str names: the document is rendered with orjson
    name: {"summary": name, "value": {"type": name, "data": example}}
    for name, example in ((str(kind), data) for kind, data in EVENT_EXAMPLES.items())
}
"""Named request examples for `/docs` (one per event type)."""


class EventAppended(BaseModel):
    event_id: uuid.UUID
    ticket_id: uuid.UUID
    type: str
    version: int
    status: str
    recorded_at: datetime | None


class TicketView(BaseModel):
    ticket_id: uuid.UUID
    account: str
    number: str
    policy: str
    priority: str
    plan: str | None
    status: str
    resolution: Resolution | None = Field(
        description="How the problem stands solved: `resolution` once resolved, `workaround` "
        "once a workaround is given and until it is resolved; null before either and after a "
        "reopening"
    )
    closed_reason: ClosedReason | None = Field(
        description="Why a closed ticket is closed: `timeout` when the customer did not "
        "answer the closure request in time (`ticket.closed_by_timeout`), `resolution` or "
        "`workaround` when closed after one, `closed` when closed with neither; null unless "
        "`status` is `closed`"
    )
    version: int
    opened_at: datetime
    updated_at: datetime


class TicketPage(BaseModel):
    items: list[TicketView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class CreateAccountBody(ApiModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", examples=["acme-voip"])
    name: str = Field(min_length=1)
    policy: str = Field(examples=["voipster"])
    plan: str | None = None
    entitled_from: date | None = Field(default=None, description="Support agreement start")
    entitled_until: date | None = Field(default=None, description="Support agreement end")
    target_overrides: dict[str, TargetHours] = Field(
        default_factory=dict,
        description="Per-metric target in hours from the account's order: finite, above 0, "
        "at most 8,760 (a year)",
    )
    escalation: dict[str, Any] | None = Field(
        default=None,
        description="Override of the policy's escalation matrix: `levels` "
        "([{level, after_hours}]), `critical` (priorities paged at any hour) and/or `rules` "
        "([{priorities, plans, metrics, levels}]: levels by priority, plan and metric)",
        examples=[{"levels": [{"level": 1, "after_hours": 0}, {"level": 2, "after_hours": 1}]}],
    )

    @field_validator("target_overrides")
    @classmethod
    def _known_metrics(cls, overrides: dict[str, float]) -> dict[str, float]:
        for metric in overrides:
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}; use one of: {', '.join(METRICS)}")
        return overrides


class ContactBody(ApiModel):
    email: str = Field(pattern=EMAIL)
    role: Literal["approved", "escalation"] = "approved"
    name: str | None = None
    level: int | None = Field(default=None, ge=1, le=9, description="Escalation level")


MAX_GRACE_SECONDS = 86_400


class ApiKeyBody(ApiModel):
    accounts: list[str] = Field(min_length=1, max_length=1_000)
    label: str | None = Field(default=None, description="What the key is for, shown in listings")


class ApiKeyIssued(BaseModel):
    id: str
    key: str = Field(description="Shown once; store it now")
    accounts: list[str]
    prefix: str = Field(
        description="`tf_<id>_` and the secret's first 4 characters, shown in listings"
    )
    created_at: datetime


class ApiKeyView(BaseModel):
    """A key as an operator sees it: never its secret or its digest."""

    id: str
    prefix: str = Field(description="`tf_<id>_` and the secret's first 4 characters")
    accounts: list[str]
    label: str | None
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When a service last accepted it (recorded at most about once a minute)"
    )
    revoked_at: datetime | None = Field(
        description="When it stops (or stopped) working; in the future during a rotation's "
        "grace period"
    )
    replaced_by: str | None = Field(description="The key that replaced it, if rotated")
    status: Literal["active", "expiring", "revoked"]


class ApiKeyPage(BaseModel):
    items: list[ApiKeyView]


class RotateKeyBody(ApiModel):
    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="How long the old key keeps working (0 to 86,400 s), while clients "
        "switch to the new one",
    )


class ApiKeyRotated(BaseModel):
    id: str
    key: str = Field(description="The new key, shown once; store it now")
    accounts: list[str]
    prefix: str
    created_at: datetime
    replaces: str = Field(description="The old key's id")
    old_key_revoked_at: datetime = Field(description="When the old key stops working")


class InboundEmailBody(ApiModel):
    sender: str = Field(pattern=EMAIL, alias="from", examples=["noc@acme.example"])
    subject: str = Field(
        min_length=1,
        description="At most TICKETFLOW_MAX_SUBJECT_CHARS characters (default 1,000)",
        examples=["ACME Corp – 12 Main St, Springfield – No dial tone on all lines – Priority 1"],
    )
    body: str = Field(
        default="", description="At most TICKETFLOW_MAX_TEXT_CHARS characters (default 65,536)"
    )
    spam: bool = Field(default=False, description="The gateway's spam filter flagged it")
    received_at: datetime | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InboundEmailResult(BaseModel):
    action: Literal["opened", "replied", "commented"]
    ticket_id: uuid.UUID
    number: str
    version: int
