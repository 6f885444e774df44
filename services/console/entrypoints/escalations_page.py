"""The *Escalations* page: open escalations of the viewer's accounts, each with an ack
button that calls the escalation API.

An ack goes to the escalation API with the viewer's own API key (the sealed session carries
it), so that service checks the account too; the console first checks the escalation is in
its read model for one of the viewer's accounts and never calls the API for another's id.
An admin-token session has no key to act with: it sees the rows without ack forms. The
outcome comes back as a flash in the query (`?acked=<id>`, `?failed=<id>&status=<n>`); the
message is the console's own text for that status, so nothing from the query is shown but
an escalation the viewer can see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console.domain.history import EscalationRow
from services.console.entrypoints.pages import (
    FILTER_VALUE,
    TEMPLATES,
    ConsoleApiDeps,
    Deps,
    PageViewer,
    Viewer,
    csrf_of,
    html_page,
    read_form,
    set_cookie,
    with_csrf,
    zone_choice,
)
from services.console.entrypoints.sessions import CSRF_COOKIE
from services.console.entrypoints.views import lag_text, local

routes = APIRouter()

BY_COOKIE = "tf_console_ack_by"
"""The name the viewer last typed in an ack form (prefills the next ones)."""
BY_MAX = 200
SHOWN = 500
REASONS = {
    0: "the escalation service could not be reached; try again",
    401: "your API key is no longer valid; sign in again",
    403: "your API key may not acknowledge it",
    404: "the escalation service does not know it for your API key",
    409: "it is already resolved",
    429: "too many requests to the escalation service; try again in a moment",
}


@dataclass(frozen=True, slots=True)
class Flash:
    text: str
    ok: bool


def label(row: EscalationRow) -> str:
    """`TF-123 first response`: the ticket and the metric, as the flash names them."""
    return f"{row.number or row.ticket_id} {row.metric.replace('_', ' ')}"


def reason(status: int) -> str:
    return REASONS.get(status, f"the escalation service answered HTTP {status}")


def valid_by(raw: str | None) -> str | None:
    """Who acknowledges: trimmed, 1 to 200 characters, no NUL; None when it is not that."""
    by = (raw or "").strip()
    if not by or len(by) > BY_MAX or "\x00" in by:
        return None
    return by


def parse_id(raw: str | None) -> uuid.UUID | None:
    if not raw or len(raw) > 64:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def last_by(request: Request) -> str:
    found = valid_by(unquote(request.cookies.get(BY_COOKIE, "")))
    return found or ""


def flash_of(
    rows: Sequence[EscalationRow], acked: uuid.UUID | None, failed: uuid.UUID | None, status: int
) -> Flash | None:
    """The message of the last ack, for an escalation among the viewer's rows only."""
    by_id = {row.escalation_id: row for row in rows}
    if acked is not None and acked in by_id:
        row = by_id[acked]
        who = f" as {row.acknowledged_by}" if row.acknowledged_by else ""
        return Flash(f"Acknowledged {label(row)}{who}.", True)
    if failed is not None and failed in by_id:
        return Flash(f"Could not acknowledge {label(by_id[failed])}: {reason(status)}.", False)
    if failed is not None:
        return Flash(f"Could not acknowledge that escalation: {reason(status)}.", False)
    return None


def row_view(
    row: EscalationRow, zone: tzinfo, acknowledging: bool, can_ack: bool
) -> dict[str, Any]:
    return {
        "id": str(row.escalation_id),
        "ticket_id": row.ticket_id,
        "ticket": row.number or row.ticket_id,
        "account": row.account,
        "priority": row.priority,
        "metric": row.metric,
        "trigger": row.trigger,
        "critical": row.critical,
        "level": row.level,
        "status": "acknowledging…" if acknowledging else row.status,
        "opened": local(row.opened_at, zone),
        "deadline": local(row.deadline, zone),
        "acknowledged_by": row.acknowledged_by,
        "form": can_ack and row.ackable and not acknowledging,
    }


async def _render(
    request: Request,
    deps: ConsoleApiDeps,
    viewer: Viewer,
    *,
    tz: str | None = None,
    acked: uuid.UUID | None = None,
    failed: uuid.UUID | None = None,
    failed_status: int = 0,
    by: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    zone_name, zone = zone_choice(request, tz)
    rows = await deps.model.escalations(viewer.accounts, SHOWN)
    if acked is not None and by:
        # Until escalation.acknowledged reaches the read model, the name just typed.
        rows = [
            replace(row, acknowledged_by=by)
            if row.escalation_id == acked and not row.acknowledged_by
            else row
            for row in rows
        ]
    projection = await deps.model.status()
    newest = projection.newest_event_at
    lag = None if newest is None else max(0.0, (deps.now() - newest).total_seconds())
    can_ack = viewer.credential is not None
    token, new = csrf_of(deps, request)
    body = TEMPLATES.get_template("escalations.html.j2").render(
        rows=[
            row_view(row, zone, row.escalation_id == acked and row.ackable, can_ack) for row in rows
        ],
        zone=zone_name,
        lag=lag_text(lag),
        newest=newest.isoformat() if newest else "",
        flash=flash_of(rows, acked, failed, failed_status),
        problem=problem,
        can_ack=can_ack,
        last_by=last_by(request),
        max_by=BY_MAX,
        admin=viewer.admin,
        csrf=token,
        nav="escalations",
    )
    return with_csrf(deps, html_page(body, status), token, new)


@routes.get("/escalations", response_class=HTMLResponse, include_in_schema=False)
async def escalations_page(
    request: Request,
    deps: Deps,
    viewer: PageViewer,
    tz: Annotated[str | None, FILTER_VALUE] = None,
    acked: Annotated[str | None, FILTER_VALUE] = None,
    failed: Annotated[str | None, FILTER_VALUE] = None,
    status: Annotated[str | None, FILTER_VALUE] = None,
) -> Response:
    """Open escalations of the viewer's accounts, raised ones first, oldest first."""
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    code = int(status) if status and status.isdigit() and len(status) <= 3 else 0
    return await _render(
        request,
        deps,
        viewer,
        tz=tz,
        acked=parse_id(acked),
        failed=parse_id(failed),
        failed_status=code,
        by=last_by(request),
    )


@routes.post(
    "/escalations/{escalation_id}/ack", response_class=HTMLResponse, include_in_schema=False
)
async def acknowledge(
    escalation_id: str, request: Request, deps: Deps, viewer: PageViewer
) -> Response:
    """Form fields `by` and `csrf`: acknowledge with the viewer's own API key."""
    form = await read_form(request)
    if not deps.signer.csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return await _refused(request, deps, viewer, "The form expired; try again.", 403)
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    if viewer.credential is None:
        return await _render(
            request,
            deps,
            viewer,
            problem="Sign in with an account API key to acknowledge escalations.",
            status=403,
        )
    wanted = parse_id(escalation_id)
    mine = None if wanted is None else await deps.model.open_escalation(wanted, viewer.accounts)
    if wanted is None or mine is None:
        return await _render(
            request, deps, viewer, problem="No such escalation of your accounts.", status=404
        )
    by = valid_by(form.get("by"))
    if by is None:
        problem = f"Type who acknowledges it (1 to {BY_MAX} characters)."
        return await _render(request, deps, viewer, problem=problem, status=400)
    outcome = await deps.acks.acknowledge(wanted, by, viewer.credential)
    if outcome.status == 200:
        query = {"acked": str(wanted)}
    else:
        query = {"failed": str(wanted), "status": str(outcome.status)}
    response = RedirectResponse("/escalations?" + urlencode(query), status_code=303)
    set_cookie(deps, response, BY_COOKIE, quote(by, safe=""), 365 * 86400)
    return response


async def _refused(
    request: Request, deps: ConsoleApiDeps, viewer: Viewer | None, problem: str, status: int
) -> Response:
    if viewer is None:
        token, new = csrf_of(deps, request)
        body = TEMPLATES.get_template("escalations.html.j2").render(
            rows=[],
            zone="UTC",
            lag="",
            newest="",
            flash=None,
            problem=problem,
            can_ack=False,
            last_by="",
            max_by=BY_MAX,
            csrf=token,
        )
        return with_csrf(deps, html_page(body, status), token, new)
    return await _render(request, deps, viewer, problem=problem, status=status)
