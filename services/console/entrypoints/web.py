"""The console's web app: sign-in with an account API key (or the admin token), the
server-rendered *At risk* page, the same list as JSON, Server-Sent Events telling the page
its rows changed, the vendored script and style, and the ops routes.

Every page and API answer is scoped to the signed-in key's accounts (the admin token: all);
every form carries a CSRF token."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import jinja2
import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from services.common import problems
from services.common.api_keys import ApiKeyVerifier, bearer
from services.common.health import TaskRegistry
from services.common.http_limits import check_rate
from services.common.http_settings import HttpSettings
from services.common.ops import ops_router
from services.common.problems import Problem
from services.common.service_app import deps_getter, service_app
from services.console.entrypoints.sessions import (
    ADMIN,
    CSRF_COOKIE,
    SESSION_COOKIE,
    TZ_COOKIE,
    Session,
    Signer,
)
from services.console.entrypoints.views import (
    FILTERS,
    AtRiskPage,
    countdown,
    fingerprint,
    lag_text,
    page,
    view,
    viewer_zone,
)
from services.console.service_layer.ports import AtRiskQuery, KeyAccounts, ReadModel
from services.console.service_layer.projection import Projection

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
FILTER_VALUE = Query(max_length=100, pattern=r"^[^\x00]*$")


@dataclass
class ConsoleApiDeps:
    projection: Projection
    model: ReadModel
    keys: ApiKeyVerifier
    key_accounts: KeyAccounts
    signer: Signer
    admin_token: str
    policy_zones: Mapping[str, tzinfo]
    readiness: Callable[[], Awaitable[dict[str, bool]]]
    now: Callable[[], datetime]
    secure_cookies: bool = True
    session_s: float = 8 * 3600.0
    events_every_s: float = 2.0
    events_stream_s: float = 300.0
    tasks: TaskRegistry | None = None


get_deps = deps_getter(ConsoleApiDeps)
Deps = Annotated[ConsoleApiDeps, Depends(get_deps)]


@dataclass(frozen=True, slots=True)
class Viewer:
    accounts: frozenset[str] | None
    """None: the admin token, every account."""
    admin: bool


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("services.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


TEMPLATES = _templates()


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _cookie(deps: ConsoleApiDeps, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=deps.secure_cookies,
        samesite="lax",
        path="/",
    )


def _csrf(deps: ConsoleApiDeps, request: Request) -> tuple[str, bool]:
    """The request's CSRF token (a new one when it has none valid) and whether it is new."""
    found = request.cookies.get(CSRF_COOKIE)
    if found and deps.signer.csrf_valid(found):
        return found, False
    return deps.signer.csrf_token(), True


def _with_csrf(deps: ConsoleApiDeps, response: Response, token: str, new: bool) -> Response:
    if new:
        _cookie(deps, response, CSRF_COOKIE, token, int(deps.session_s))
    return response


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(raw, max_num_fields=10).items()}


async def _viewer_of(deps: ConsoleApiDeps, session: Session | None) -> Viewer | None:
    if session is None:
        return None
    if session.admin:
        return Viewer(None, True)
    accounts = await deps.key_accounts.accounts_of(session.key)
    return None if accounts is None else Viewer(accounts, False)


async def session_viewer(request: Request, deps: Deps) -> Viewer | None:
    """The signed-in viewer of the session cookie; None when there is none (or it ended)."""
    session = deps.signer.session(request.cookies.get(SESSION_COOKIE), time.time())
    return await _viewer_of(deps, session)


async def api_viewer(request: Request, deps: Deps) -> Viewer:
    """The session's viewer, or an API key / the admin token as a bearer; 401 otherwise."""
    presented = bearer(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if presented:
        if hmac.compare_digest(presented.encode(), deps.admin_token.encode()):
            return Viewer(None, True)
        key = await deps.keys.authenticate(presented)
        if key is not None:
            check_rate(request, key.id)
            return Viewer(key.accounts, False)
    else:
        found = await session_viewer(request, deps)
        if found is not None:
            return found
    raise Problem(401, "Unauthorized", "sign in, or send an API key as `Authorization: Bearer`")


PageViewer = Annotated[Viewer | None, Depends(session_viewer)]
ApiViewer = Annotated[Viewer, Depends(api_viewer)]


def _zone_choice(request: Request, tz: str | None) -> tuple[str, tzinfo]:
    for name in (tz, request.cookies.get(TZ_COOKIE)):
        zone = viewer_zone(name)
        if name and zone is not None:
            return name, zone
    return "UTC", UTC


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


routes = APIRouter()


@routes.get("/", include_in_schema=False)
async def home(viewer: PageViewer) -> RedirectResponse:
    return RedirectResponse("/at-risk" if viewer is not None else "/signin", status_code=303)


@routes.get("/signin", response_class=HTMLResponse, include_in_schema=False)
async def signin_form(request: Request, deps: Deps) -> Response:
    token, new = _csrf(deps, request)
    body = TEMPLATES.get_template("signin.html.j2").render(csrf=token, error=None)
    return _with_csrf(deps, _html(body), token, new)


@routes.post("/signin", response_class=HTMLResponse, include_in_schema=False)
async def signin(request: Request, deps: Deps) -> Response:
    """Form fields `key` (an account API key `tf_...`, or the admin token) and `csrf`."""
    form = await _form(request)
    token, new = _csrf(deps, request)
    if not deps.signer.csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return _refused(deps, token, new, "The form expired; sign in again.", 403)
    presented = form.get("key", "").strip()
    key: str | None = None
    if presented and hmac.compare_digest(presented.encode(), deps.admin_token.encode()):
        key = ADMIN
    elif presented:
        found = await deps.keys.authenticate(presented)
        key = found.id if found is not None else None
    if key is None:
        return _refused(deps, token, new, "That key is not valid.", 401)
    session = Session(key, int(time.time() + deps.session_s))
    response = RedirectResponse("/at-risk", status_code=303)
    _cookie(
        deps, response, SESSION_COOKIE, deps.signer.session_cookie(session), int(deps.session_s)
    )
    return response


def _refused(deps: ConsoleApiDeps, token: str, new: bool, error: str, status: int) -> Response:
    body = TEMPLATES.get_template("signin.html.j2").render(csrf=token, error=error)
    return _with_csrf(deps, _html(body, status), token, new)


@routes.post("/signout", summary="End the session", include_in_schema=False)
async def signout(request: Request, deps: Deps) -> Response:
    form = await _form(request)
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
    zone_name, zone = _zone_choice(request, tz)
    found = await _at_risk(deps, viewer, filters, zone_name, zone)
    token, new = _csrf(deps, request)
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
        events_url="/events?" + urlencode({k: v for k, v in filters.items() if v}),
        bad_zone=bool(tz) and zone_name != tz,
    )
    response = _with_csrf(deps, _html(body), token, new)
    if tz and zone_name == tz:
        _cookie(deps, response, TZ_COOKIE, tz, 365 * 86400)
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
    zone_name, zone = _zone_choice(request, tz)
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
    app.include_router(ops_router(app))
    problems.document_problems(app)  # after the security: 401s go where a key is needed
    return app
