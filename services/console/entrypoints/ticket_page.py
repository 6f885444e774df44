"""The *Ticket* page: a ticket's event history, its SLA timeline per metric and why each
clock is due when it is; and the same as JSON (`GET /v1/tickets/{id}/timeline`).

The clocks are the ticket's projected history replayed through the SLA core as of now, so
the page reads what the SLA service's `GET /v1/tickets/{id}/sla` reads. Another account's
ticket is not found, exactly as an unknown one."""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from services.common.problems import Problem
from services.console.domain.history import HistoryEvent, TicketRecord
from services.console.domain.ticket_view import (
    ReplayedTicket,
    event_summary,
    markers,
    replayed,
    why_due_lines,
)
from services.console.domain.timeline import timeline_facts, timeline_svg
from services.console.entrypoints.pages import (
    FILTER_VALUE,
    TEMPLATES,
    ApiViewer,
    ConsoleApiDeps,
    Deps,
    PageViewer,
    Viewer,
    csrf_of,
    html_page,
    with_csrf,
    zone_choice,
)
from services.console.entrypoints.views import local
from shared.policy import Policy
from shared.sla.report import json_value, utc_z

routes = APIRouter()

TicketId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^\x00/]+$")]
SUMMARY_MAX = 200


class Shown:
    """A ticket as both the page and the JSON show it."""

    def __init__(self, record: TicketRecord, policy: Policy | None, deps: ConsoleApiDeps) -> None:
        self.record = record
        self.policy = policy
        self.now = deps.now()
        self.ticket: ReplayedTicket | None = (
            replayed(record, policy, self.now) if policy is not None else None
        )

    def markers(self) -> list[tuple[Any, str, str]]:
        return markers(self.ticket, self.record) if self.ticket is not None else []

    def charted(self) -> bool:
        return self.ticket is not None and bool(self.ticket.view["metrics"])


async def _shown(deps: ConsoleApiDeps, viewer: Viewer, ticket_id: str) -> Shown | None:
    record = await deps.model.ticket_record(ticket_id, viewer.accounts)
    if record is None:
        return None
    return Shown(record, deps.policies.get(record.facts.policy), deps)


def _summary(event: HistoryEvent) -> str:
    text = event_summary(event)
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _history_rows(shown: Shown, zone: tzinfo) -> list[dict[str, Any]]:
    held = {e.event_id for e in shown.ticket.held} if shown.ticket is not None else set()
    return [
        {
            "kind": event.type,
            "sequence": event.sequence,
            "at": local(event.at, zone),
            "at_iso": utc_z(event.at),
            "recorded": local(event.recorded_at, zone),
            "summary": _summary(event),
            "held": event.event_id in held,
        }
        for event in shown.record.events
    ]


@routes.get("/tickets/{ticket_id}", response_class=HTMLResponse, include_in_schema=False)
async def ticket_page(
    ticket_id: TicketId,
    request: Request,
    deps: Deps,
    viewer: PageViewer,
    tz: Annotated[str | None, FILTER_VALUE] = None,
) -> Response:
    """One ticket: its timeline per metric, why each clock is due then, its events."""
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    zone_name, zone = zone_choice(request, tz)
    token, new = csrf_of(deps, request)
    shown = await _shown(deps, viewer, ticket_id)
    common = {"zone": zone_name, "admin": viewer.admin, "csrf": token, "nav": "ticket"}
    if shown is None:
        body = TEMPLATES.get_template("ticket.html.j2").render(
            missing=ticket_id, ticket=None, **common
        )
        return with_csrf(deps, html_page(body, 404), token, new)
    facts = shown.record.facts
    svg = facts_list = None
    why: dict[str, str] = {}
    if shown.ticket is not None and shown.policy is not None and shown.charted():
        found = shown.markers()
        svg = Markup(timeline_svg(shown.ticket.view, shown.policy, found, zone))
        facts_list = timeline_facts(shown.ticket.view, shown.policy, found, zone)
        why = why_due_lines(shown.ticket.state, zone, shown.now)
    view = shown.ticket.view if shown.ticket is not None else {}
    body = TEMPLATES.get_template("ticket.html.j2").render(
        missing=None,
        ticket={
            "id": facts.ticket_id,
            "number": facts.number or facts.ticket_id,
            "account": facts.account,
            "policy": facts.policy,
            "priority": view.get("priority") or facts.priority,
            "status": view.get("ticket_status") or ("ended" if facts.ended else "open"),
            "known_policy": shown.policy is not None,
            "held": [e.sequence for e in shown.ticket.held] if shown.ticket else [],
        },
        as_of=local(shown.now, zone),
        svg=svg,
        facts=facts_list or (),
        why=why,
        history=_history_rows(shown, zone),
        **common,
    )
    return with_csrf(deps, html_page(body), token, new)


def _event_json(event: HistoryEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "at": utc_z(event.at),
        "sequence": event.sequence,
        "recorded_at": utc_z(event.recorded_at),
        "schema_version": event.schema_version,
        "data": json_value(dict(event.data)),
    }


@routes.get(
    "/v1/tickets/{ticket_id}/timeline",
    summary="A ticket's SLA timeline",
    responses={
        200: {"description": "The view, markers, why-due lines and history"},
        401: {"description": "Not signed in and no API key"},
        404: {"description": "No such ticket among the key's accounts"},
    },
)
async def ticket_timeline(
    ticket_id: TicketId,
    request: Request,
    deps: Deps,
    viewer: ApiViewer,
    tz: Annotated[str | None, FILTER_VALUE] = None,
) -> dict[str, Any]:
    """The ticket's SLA view as of now, replayed from the console's copy of its history (the
    `SlaView` of `GET /v1/tickets/{id}/sla`), the markers its timeline draws beside the
    clocks (severity changes, warnings sent, escalation pages and acks, notifications
    delivered), a "why is it due then?" line per clock in the zone `tz` (default UTC, or
    the console's time-zone cookie), and the ticket's events in version order; events
    past a gap in the sequence are in `held`, not folded."""
    shown = await _shown(deps, viewer, ticket_id)
    if shown is None:
        raise Problem(404, "Not found", f"no ticket {ticket_id!r} among your accounts")
    _, zone = zone_choice(request, tz)
    ticket = shown.ticket
    return {
        "ticket_id": shown.record.facts.ticket_id,
        "number": shown.record.facts.number,
        "account": shown.record.facts.account,
        "policy": shown.record.facts.policy,
        "known_policy": shown.policy is not None,
        "sla": ticket.view if ticket is not None else None,
        "markers": [
            {"at": utc_z(at), "kind": kind, "label": label} for at, kind, label in shown.markers()
        ],
        "why_due": why_due_lines(ticket.state, zone, shown.now) if ticket is not None else {},
        "history": [_event_json(event) for event in shown.record.events],
        "held": [str(event.event_id) for event in ticket.held] if ticket is not None else [],
    }
