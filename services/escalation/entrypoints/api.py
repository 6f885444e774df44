"""The escalation HTTP API: list and read escalations, acknowledge one; health and metrics.
Every request carries an API key and sees only its accounts' escalations."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from services.common.api_keys import ApiKeyVerifier
from services.common.health import TaskRegistry
from services.common.http_settings import HttpSettings
from services.common.ops import ops_router
from services.common.problems import Problem
from services.common.service_app import deps_getter, service_app
from services.common.web_auth import Key
from services.escalation.domain.escalation import Escalation, NotOpen
from services.escalation.service_layer.escalations import Escalator


class EscalationView(BaseModel):
    id: uuid.UUID
    ticket_id: str
    ticket_number: str | None
    account: str
    policy: str
    priority: str
    metric: str
    trigger: str
    reason: str | None
    critical: bool
    status: Literal["warned", "deferred", "raised", "acknowledged", "resolved"]
    level: int = Field(description="Highest matrix level paged so far")
    opened_at: datetime
    plan: str | None
    deadline: datetime | None
    raised_at: datetime | None
    next_at: datetime | None = Field(description="Next page (deferred first page or next level)")
    acknowledged_by: str | None
    resolution: str | None


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$", examples=["jane@noc"])


def _view(escalation: Escalation) -> EscalationView:
    return EscalationView(**asdict(escalation))


class EscalationApiDeps:
    def __init__(
        self,
        escalator: Escalator,
        keys: ApiKeyVerifier,
        readiness: Callable[[], Awaitable[dict[str, bool]]],
        tasks: TaskRegistry | None = None,
    ) -> None:
        self.escalator = escalator
        self.keys = keys
        self.readiness = readiness
        self.tasks = tasks

    async def refresh_metrics(self) -> None:
        await self.escalator.refresh_metrics()


get_deps = deps_getter(EscalationApiDeps)


Deps = Annotated[EscalationApiDeps, Depends(get_deps)]


routes = APIRouter()
"""The escalations resource: list, read, acknowledge."""


@routes.get("/v1/escalations", response_model=list[EscalationView])
async def list_escalations(
    deps: Deps,
    key: Key,
    ticket: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00]*$")] = None,
    status: Annotated[
        Literal["warned", "deferred", "raised", "acknowledged", "resolved"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[EscalationView]:
    """Escalations of the key's accounts, newest first."""
    found = await deps.escalator.listing(sorted(key.accounts), ticket, status, limit)
    return [_view(item) for item in found]


@routes.get("/v1/escalations/{escalation_id}", response_model=EscalationView)
async def get_escalation(escalation_id: uuid.UUID, deps: Deps, key: Key) -> EscalationView:
    found = await deps.escalator.get(escalation_id, sorted(key.accounts))
    if found is None:
        raise Problem(404, "Not found", f"no escalation {escalation_id}")
    return _view(found)


@routes.post("/v1/escalations/{escalation_id}/ack", response_model=EscalationView)
async def acknowledge(
    escalation_id: uuid.UUID, body: AckBody, deps: Deps, key: Key
) -> EscalationView:
    """Take ownership: no further level is paged. Acknowledging twice is harmless; a
    resolved escalation answers 409."""
    try:
        found = await deps.escalator.acknowledge(escalation_id, body.by, sorted(key.accounts))
    except NotOpen as exc:
        raise Problem(409, "Already resolved", str(exc)) from None
    if found is None:
        raise Problem(404, "Not found", f"no escalation {escalation_id}")
    return _view(found)


def create_app(lifespan: Any = None, http: HttpSettings | None = None) -> FastAPI:
    """`http`: the body limit and the per-API-key rate limit (defaults of `HttpSettings`)."""
    app = service_app(
        "escalation",
        "Escalations raised from SLA warnings, breaches and customer requests.",
        lifespan=lifespan,
        http=http,
    )
    app.include_router(routes)
    app.include_router(ops_router(app))
    return app
