"""`/v1/inbound/email`: what the email gateway posts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.intake.entrypoints import schemas
from services.intake.entrypoints.deps import Deps, Key
from services.intake.entrypoints.documented_headers import IDEMPOTENT
from services.intake.entrypoints.limits import RequestLimits
from services.intake.entrypoints.metrics import Metrics
from services.intake.entrypoints.responses import idempotent
from services.intake.service_layer.inbound import InboundEmail, take_email


def inbound_router(limits: RequestLimits, metrics: Metrics) -> APIRouter:
    router = APIRouter(prefix="/v1/inbound", tags=["tickets"])

    @router.post(
        "/email",
        status_code=201,
        response_model=schemas.InboundEmailResult,
        summary="A parsed email from the email gateway",
        openapi_extra=IDEMPOTENT,
    )
    async def inbound_email(
        body: schemas.InboundEmailBody, request: Request, deps: Deps, key: Key
    ) -> JSONResponse:
        """A reply (ticket number in the subject) becomes `ticket.customer_replied`; anything
        else opens a ticket for the account whose approved contact sent it."""
        limits.check_text(body)

        async def handle() -> dict[str, Any]:
            email = InboundEmail(
                sender=body.sender,
                subject=body.subject,
                body=body.body,
                spam=body.spam,
                received_at=body.received_at,
            )
            taken = await take_email(deps.ports(), email, key.accounts)
            metrics.events.labels(taken.event_type).inc()
            return {
                "action": taken.action,
                "ticket_id": str(taken.ticket_id),
                "number": taken.number,
                "version": taken.version,
            }

        return await idempotent(request, deps.idempotency, key, 201, handle)

    return router
