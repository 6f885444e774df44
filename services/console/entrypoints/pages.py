"""What every console page and API route shares: the app's deps, who is signed in (a
session cookie, an API key or the admin token as a bearer), the templates, the security
headers, cookies, CSRF tokens, forms and the viewer's time zone."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Annotated
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.common.api_keys import ApiKeyVerifier, bearer
from services.common.health import TaskRegistry
from services.common.http_limits import check_rate
from services.common.problems import Problem
from services.common.service_app import deps_getter
from services.console.entrypoints.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    TZ_COOKIE,
    Session,
    Signer,
)
from services.console.entrypoints.views import viewer_zone
from services.console.service_layer.ports import EscalationAcks, KeyAccounts, ReadModel
from services.console.service_layer.projection import Projection
from shared.policy import Policy

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
    policies: Mapping[str, Policy]
    """Every pinned policy by its reference (`voipster@1`)."""
    acks: EscalationAcks
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
    credential: str | None = None
    """The viewer's API key, for calls made on their behalf (None: the admin token)."""


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("services.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


TEMPLATES = _templates()


def html_page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def set_cookie(
    deps: ConsoleApiDeps, response: Response, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=deps.secure_cookies,
        samesite="lax",
        path="/",
    )


def csrf_of(deps: ConsoleApiDeps, request: Request) -> tuple[str, bool]:
    """The request's CSRF token (a new one when it has none valid) and whether it is new."""
    found = request.cookies.get(CSRF_COOKIE)
    if found and deps.signer.csrf_valid(found):
        return found, False
    return deps.signer.csrf_token(), True


def with_csrf(deps: ConsoleApiDeps, response: Response, token: str, new: bool) -> Response:
    if new:
        set_cookie(deps, response, CSRF_COOKIE, token, int(deps.session_s))
    return response


async def read_form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(raw, max_num_fields=10).items()}


async def _viewer_of(deps: ConsoleApiDeps, session: Session | None) -> Viewer | None:
    if session is None:
        return None
    if session.admin:
        return Viewer(None, True)
    accounts = await deps.key_accounts.accounts_of(session.key)
    return None if accounts is None else Viewer(accounts, False, session.credential)


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
            return Viewer(key.accounts, False, presented)
    else:
        found = await session_viewer(request, deps)
        if found is not None:
            return found
    raise Problem(401, "Unauthorized", "sign in, or send an API key as `Authorization: Bearer`")


PageViewer = Annotated[Viewer | None, Depends(session_viewer)]
ApiViewer = Annotated[Viewer, Depends(api_viewer)]


def zone_choice(request: Request, tz: str | None) -> tuple[str, tzinfo]:
    for name in (tz, request.cookies.get(TZ_COOKIE)):
        zone = viewer_zone(name)
        if name and zone is not None:
            return name, zone
    return "UTC", UTC


routes = APIRouter()
"""Sign-in, *At risk*, its JSON and event stream, the static files (web.py)."""
