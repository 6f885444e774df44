"""The model of a ticket's SLA view (what `shared.sla.view.sla_view` returns), a
published contract: the SLA service's `GET /v1/tickets/{id}/sla` and intake's, which relays
it, both document it with this model. It only describes: the SLA domain builds plain dicts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.policy import MetricName

Metric = MetricName


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime = Field(alias="from", description="UTC")
    end: datetime | None = Field(alias="to", description="UTC; null while still open")


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(description="The target, in business seconds of `calendar`")
    calendar: str


class MetricView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["running", "paused", "met", "breached", "none"]
    due_at: datetime | None = Field(description="UTC; null while paused or without a target")
    breached_at: datetime | None
    met_at: datetime | None = None
    target: Target | None = None
    remaining_business_seconds: float | None = Field(
        default=None, description="While the clock runs or is paused; negative once overdue"
    )
    phase: Literal["idle", "running", "paused", "met", "cancelled"] | None = None
    warn_at: datetime | None = Field(default=None, description="When the warning fires (UTC)")
    elapsed_business_seconds: float | None = None
    runs: list[Span] | None = Field(default=None, description="The spans the clock ran")
    pauses: list[Span] | None = Field(
        default=None, description="The spans between runs: time on the customer's side"
    )


class SlaView(BaseModel):
    """A ticket's SLA clocks as of `as_of`: status, due times, remaining business time,
    pauses. Before the ticket's opening has been processed (`waiting_for_sequences` lists
    the events held until it is), `accepted` is null and `metrics` empty."""

    model_config = ConfigDict(extra="forbid", title="SlaView")

    ticket_id: uuid.UUID
    account: str
    policy: str = Field(description="The policy pinned at opening, `id@version`")
    as_of: datetime
    version: int = Field(ge=0, description="The last ticket event applied (its sequence)")
    waiting_for_sequences: list[int]
    accepted: bool | None
    metrics: dict[Metric, MetricView]
    rejection: str | None = None
    flags: list[str] | None = None
    priority: str | None = None
    plan: str | None = None
    ticket_status: str | None = None
    opened_at: datetime | None = None
