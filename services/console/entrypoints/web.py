"""The console's web app: sign-in with an account API key (or the admin token), the
server-rendered *At risk* page, the same list as JSON, Server-Sent Events telling the page
its rows changed, the vendored script and style, and the ops routes.

Every page and API answer is scoped to the signed-in key's accounts (the admin token: all);
every form carries a CSRF token."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, tzinfo
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from services.common import problems
from services.common.http_settings import HttpSettings
from services.common.ops import ops_router
from services.common.problems import Problem
from services.common.service_app import service_app
from services.console.entrypoints import compliance_page, escalations_page, ticket_page
from services.console.entrypoints.pages import (
    FILTER_VALUE,
    STATIC,
    TEMPLATES,
    ApiViewer,
    ConsoleApiDeps,
    Deps,
    PageViewer,
    Viewer,
    csrf_of,
    html_page,
    read_form,
    routes,
    set_cookie,
    with_csrf,
    zone_choice,
)
from services.console.entrypoints.sessions import (
    ADMIN,
    CSRF_COOKIE,
    SESSION_COOKIE,
    TZ_COOKIE,
    Session,
)
from services.console.entrypoints.views import (
    FILTERS,
    AtRiskPage,
    countdown,
    fingerprint,
    lag_text,
    page,
    view,
)
from services.console.service_layer.ports import AtRiskQuery

__all__ = ["ConsoleApiDeps", "create_app", "routes"]


async def _at_risk(
    deps: ConsoleApiDeps,
    viewer: Viewer,
    filters: dict[str, str | None],
    zone_name: str,
    zone: tzinfo,
) -> AtRiskPage:
    query = AtRiskQuery(viewer.accounts, filters["account"], filters["policy"], filters["priority"])
    rows = await deps.projection.at_risk(query)
    status = await deps.model.status()
    now = deps.now()
    views = [view(row, now, zone, deps.policy_zones) for row in rows]
    return page(views, zone_name, now, status.newest_event_at)


@routes.get("/", include_in_schema=False)
async def home(viewer: PageViewer) -> RedirectResponse:
    return RedirectResponse("/at-risk" if viewer is not None else "/signin", status_code=303)


@routes.get("/signin", response_class=HTMLResponse, include_in_schema=False)
async def signin_form(request: Request, deps: Deps) -> Response:
    token, new = csrf_of(deps, request)
    body = TEMPLATES.get_template("signin.html.j2").render(csrf=token, error=None)
    return with_csrf(deps, html_page(body), token, new)


@routes.post("/signin", response_class=HTMLResponse, include_in_schema=False)
async def signin(request: Request, deps: Deps) -> Response:
    """Form fields `key` (an account API key `tf_...`, or the admin token) and `csrf`."""
    form = await read_form(request)
    token, new = csrf_of(deps, request)
    if not deps.signer.csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return _refused(deps, token, new, "The form expired; sign in again.", 403)
    presented = form.get("key", "").strip()
    key: str | None = None
    credential: str | None = None
    if presented and hmac.compare_digest(presented.encode(), deps.admin_token.encode()):
        key = ADMIN
    elif presented:
        found = await deps.keys.authenticate(presented)
        key, credential = (found.id, presented) if found is not None else (None, None)
    if key is None:
        return _refused(deps, token, new, "That key is not valid.", 401)
    session = Session(key, int(time.time() + deps.session_s), credential)
    response = RedirectResponse("/at-risk", status_code=303)
    set_cookie(
        deps, response, SESSION_COOKIE, deps.signer.session_cookie(session), int(deps.session_s)
    )
    return response


def _refused(deps: ConsoleApiDeps, token: str, new: bool, error: str, status: int) -> Response:
    body = TEMPLATES.get_template("signin.html.j2").render(csrf=token, error=error)
    return with_csrf(deps, html_page(body, status), token, new)


@routes.post("/signout", summary="End the session", include_in_schema=False)
async def signout(request: Request, deps: Deps) -> Response:
    form = await read_form(request)
    if not deps.signer.csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        raise Problem(403, "Forbidden", "missing or wrong CSRF token")
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=deps.secure_cookies, httponly=True)
    return response


@routes.get("/at-risk", response_class=HTMLResponse, include_in_schema=False)
async def at_risk_page(
    request: Request,
    deps: Deps,
    viewer: PageViewer,
    account: Annotated[str | None, FILTER_VALUE] = None,
    policy: Annotated[str | None, FILTER_VALUE] = None,
    priority: Annotated[str | None, FILTER_VALUE] = None,
    tz: Annotated[str | None, FILTER_VALUE] = None,
) -> Response:
    """Open tickets of the viewer's accounts, the next deadline first."""
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    filters = {"account": account or None, "policy": policy or None, "priority": priority or None}
    zone_name, zone = zone_choice(request, tz)
    found = await _at_risk(deps, viewer, filters, zone_name, zone)
    token, new = csrf_of(deps, request)
    choices = await deps.model.filters(viewer.accounts)
    body = TEMPLATES.get_template("at_risk.html.j2").render(
        page=found,
        version=fingerprint(found.rows),
        countdown=countdown,
        lag=lag_text(found.lag_seconds),
        filters=filters,
        choices=choices,
        names=FILTERS,
        admin=viewer.admin,
        csrf=token,
        nav="at-risk",
        events_url="/events?" + urlencode({k: v for k, v in filters.items() if v}),
        bad_zone=bool(tz) and zone_name != tz,
    )
    response = with_csrf(deps, html_page(body), token, new)
    if tz and zone_name == tz:
        set_cookie(deps, response, TZ_COOKIE, tz, 365 * 86400)
    return response


@routes.get("/v1/at-risk", response_model=AtRiskPage, summary="The at-risk list as JSON")
async def at_risk_json(
    request: Request,
    deps: Deps,
    viewer: ApiViewer,
    account: Annotated[str | None, FILTER_VALUE] = None,
    policy: Annotated[str | None, FILTER_VALUE] = None,
    priority: Annotated[str | None, FILTER_VALUE] = None,
    tz: Annotated[str | None, FILTER_VALUE] = None,
) -> AtRiskPage:
    filters = {"account": account or None, "policy": policy or None, "priority": priority or None}
    zone_name, zone = zone_choice(request, tz)
    return await _at_risk(deps, viewer, filters, zone_name, zone)


@routes.get("/events", summary="Server-Sent Events: the viewer's at-risk rows changed")
async def events(
    request: Request,
    deps: Deps,
    viewer: ApiViewer,
    account: Annotated[str | None, FILTER_VALUE] = None,
    policy: Annotated[str | None, FILTER_VALUE] = None,
    priority: Annotated[str | None, FILTER_VALUE] = None,
) -> StreamingResponse:
    """`event: changed` with the version of the viewer's rows (first, then whenever they
    change: the page reloads its table when it shows another version), `event: status`
    (the projection's newest event time) every check. The stream ends after a while; the browser's
    EventSource reconnects (`retry`)."""
    filters = {"account": account or None, "policy": policy or None, "priority": priority or None}
    return StreamingResponse(
        _stream(deps, viewer, filters),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    deps: ConsoleApiDeps, viewer: Viewer, filters: dict[str, str | None]
) -> AsyncIterator[bytes]:
    yield b"retry: 3000\n\n"
    ends = time.monotonic() + deps.events_stream_s
    changes: int | None = None
    seen: str | None = None
    while True:
        status = await deps.model.status()
        if status.changes != changes:
            changes = status.changes
            rows = await _at_risk(deps, viewer, filters, "UTC", UTC)
            version = fingerprint(rows.rows)
            if version != seen:
                yield _sse("changed", {"version": version, "rows": len(rows.rows)})
            seen = version
        newest = status.newest_event_at.isoformat() if status.newest_event_at else None
        yield _sse("status", {"newest_event_at": newest})
        if time.monotonic() >= ends:
            return
        await asyncio.sleep(min(deps.events_every_s, max(0.0, ends - time.monotonic())))


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@routes.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    media = STATIC.get(name)
    if media is None:
        raise Problem(404, "Not found", f"no static file {name}")
    content = resources.files("services.console").joinpath("static", name).read_bytes()
    return Response(content, media_type=media, headers={"Cache-Control": "max-age=3600"})


def create_app(lifespan: Any = None, http: HttpSettings | None = None) -> FastAPI:
    """The pages a browser uses (sign-in, At risk) are not in the OpenAPI document; the
    JSON list and the event stream are."""
    app = service_app(
        "console",
        "The support console: open tickets by their next deadline, live.",
        lifespan=lifespan,
        http=http,
    )
    app.include_router(routes)
    for module in (ticket_page, escalations_page, compliance_page):
        app.include_router(module.routes)
    app.include_router(ops_router(app))
    problems.document_problems(app)  # after the security: 401s go where a key is needed
    return app
