"""`/v1/tickets`: open a ticket, append its events, read it, its history and its SLA."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from services.common.problems import Problem
from services.intake.domain.errors import NotYet, Unavailable
from services.intake.domain.opening import OpenTicket
from services.intake.domain.tickets import TicketRow
from services.intake.entrypoints import schemas
from services.intake.entrypoints.deps import Deps, Key
from services.intake.entrypoints.documented_headers import CONDITIONAL, IDEMPOTENT, IF_MATCH
from services.intake.entrypoints.limits import RequestLimits
from services.intake.entrypoints.metrics import Metrics
from services.intake.entrypoints.request_headers import parse_if_match
from services.intake.entrypoints.responses import idempotent
from services.intake.service_layer import tickets
from shared.events import Envelope
from shared.events.types import TicketEventType
from shared.sla.view_model import SlaView


def ticket_view(row: TicketRow) -> schemas.TicketView:
    return schemas.TicketView(
        ticket_id=row.ticket_id,
        account=row.account_id,
        number=row.number,
        policy=row.policy,
        priority=row.priority,
        plan=row.plan,
        status=row.status,
        resolution=row.resolution,
        closed_reason=row.closed_reason,
        version=row.version,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
    )


def created(recorded: Envelope) -> schemas.TicketCreated:
    data = recorded.data
    return schemas.TicketCreated(
        ticket_id=uuid.UUID(recorded.subject),
        number=data["ticket_number"],
        version=1,
        status="open",
        policy=recorded.policy,
        priority=data["priority"],
        plan=data.get("plan"),
        flags=data.get("flags", []),
        occurred_at=recorded.time,
    )


def tickets_router(limits: RequestLimits, metrics: Metrics) -> APIRouter:
    router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
    _writes(router, limits, metrics)
    _reads(router)
    return router


def _writes(router: APIRouter, limits: RequestLimits, metrics: Metrics) -> None:
    """Opening a ticket and appending its events (idempotent by key)."""

    @router.post(
        "",
        status_code=201,
        response_model=schemas.TicketCreated,
        summary="Open a ticket",
        openapi_extra=IDEMPOTENT,
    )
    async def open_ticket(
        body: schemas.OpenTicketBody, request: Request, deps: Deps, key: Key
    ) -> JSONResponse:
        limits.check_text(body)

        async def handle() -> dict[str, Any]:
            if body.account not in key.accounts:
                raise Problem(404, "Not found", f"no account {body.account!r}")
            command = OpenTicket(
                account=body.account,
                contact=body.contact,
                channel=body.channel.value,
                priority=body.priority,
                subject=body.subject,
                description=body.description,
                plan=body.plan,
                occurred_at=body.occurred_at,
                spam=body.spam,
            )
            recorded = await tickets.open_ticket(deps.ports(), command)
            metrics.events.labels(TicketEventType.OPENED).inc()
            return created(recorded).model_dump(mode="json")

        return await idempotent(request, deps.idempotency, key, 201, handle)

    @router.post(
        "/{ticket_id}/events",
        status_code=201,
        response_model=schemas.EventAppended,
        summary="Append an event to a ticket",
        responses={
            409: {"description": "If-Match version is stale"},
            422: {
                "description": "Invalid body, or an event the ticket's state or its pinned "
                "policy refuses"
            },
        },
        openapi_extra=CONDITIONAL,
    )
    async def append_event(
        ticket_id: uuid.UUID,
        body: Annotated[schemas.AppendEventBody, Body(openapi_examples=schemas.APPEND_EXAMPLES)],
        request: Request,
        deps: Deps,
        key: Key,
    ) -> JSONResponse:
        expected = parse_if_match(request.headers.get(IF_MATCH))
        limits.check_text(body)
        data = body.data.model_dump(mode="json", exclude_unset=True)

        async def handle() -> dict[str, Any]:
            recorded, status = await tickets.append_event(
                deps.ports(),
                ticket_id,
                body.type,
                data,
                occurred_at=body.occurred_at,
                expected_version=expected,
                accounts=key.accounts,
            )
            metrics.events.labels(body.type).inc()
            return schemas.EventAppended(
                event_id=recorded.id,
                ticket_id=ticket_id,
                type=recorded.type,
                version=recorded.sequence,
                status=status,
                recorded_at=recorded.recorded_at,
            ).model_dump(mode="json")

        return await idempotent(request, deps.idempotency, key, 201, handle)


def _reads(router: APIRouter) -> None:
    """A ticket, its history, its SLA, and pages of tickets."""

    @router.get("/{ticket_id}", response_model=schemas.TicketView)
    async def get_ticket(ticket_id: uuid.UUID, deps: Deps, key: Key) -> JSONResponse:
        row = await deps.store.ticket(ticket_id, key.accounts)
        return JSONResponse(
            ticket_view(row).model_dump(mode="json"), headers={"ETag": f'"{row.version}"'}
        )

    @router.get(
        "/{ticket_id}/events", summary="The ticket's history (CloudEvents, structured JSON)"
    )
    async def get_history(ticket_id: uuid.UUID, deps: Deps, key: Key) -> list[dict[str, Any]]:
        await deps.store.ticket(ticket_id, key.accounts)
        return [
            {"specversion": "1.0", **env.model_dump(mode="json", exclude_none=True)}
            for env in await deps.store.history(ticket_id)
        ]

    @router.get(
        "/{ticket_id}/sla",
        summary="The ticket's SLA clocks: status, due times, remaining business time, pauses",
        response_model=None,  # relayed as the SLA service sent it, documented as SlaView
        responses={
            200: {"model": SlaView, "description": "The SLA service's view of the ticket"},
            404: {"description": "No such ticket, or the SLA service has not processed it yet"},
            503: {"description": "The SLA service is not reachable"},
        },
    )
    async def get_sla(ticket_id: uuid.UUID, deps: Deps, key: Key) -> dict[str, Any]:
        await deps.store.ticket(ticket_id, key.accounts)
        if deps.sla is None:
            raise Unavailable("SLA unavailable", "this intake has no TICKETFLOW_SLA_URL set")
        view = await deps.sla.view(ticket_id)
        if view is None:
            raise NotYet(
                "SLA not yet available",
                "the SLA service has not processed this ticket yet; retry in a moment",
            )
        return view

    @router.get("", response_model=schemas.TicketPage)
    async def list_tickets(
        deps: Deps,
        key: Key,
        account: Annotated[str | None, Query(pattern=schemas.NO_NUL)] = None,
        status: Annotated[str | None, Query(pattern=schemas.NO_NUL)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        after: Annotated[str | None, Query(pattern=schemas.NO_NUL)] = None,
    ) -> schemas.TicketPage:
        if account is not None and account not in key.accounts:
            raise Problem(404, "Not found", f"no account {account!r}")
        scope = frozenset({account}) if account else key.accounts
        rows = await deps.store.list_tickets(scope, status, limit, after)
        return schemas.TicketPage(
            items=[ticket_view(r) for r in rows],
            next_after=rows[-1].number if len(rows) == limit else None,
        )
