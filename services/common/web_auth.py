"""FastAPI dependencies shared by the escalation and notify APIs: the running app's deps
object (set by the lifespan; it has `keys` and, for admin routes, `admin_token`), the API key
(scoped to accounts, and rate limited when the app has a limiter: `http_limits.install_limits`)
and the admin token."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from services.common.api_keys import ApiKey, bearer
from services.common.http_limits import check_rate
from services.common.problems import Problem


def app_deps(request: Request) -> Any:
    found = getattr(request.app.state, "deps", None)
    if found is None:
        raise Problem(503, "Starting", "the service is starting; retry shortly")
    return found


async def require_key(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKey:
    presented = bearer(authorization, x_api_key)
    key = await app_deps(request).keys.authenticate(presented) if presented else None
    if key is None:
        raise Problem(401, "Unauthorized", "send a valid API key as `Authorization: Bearer tf_...`")
    assert isinstance(key, ApiKey)
    check_rate(request, key.id)
    return key


async def require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    presented = bearer(authorization) or ""
    token: str = app_deps(request).admin_token
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise Problem(401, "Unauthorized", "admin endpoints need the admin token as a bearer")


Key = Annotated[ApiKey, Depends(require_key)]
Admin = Annotated[None, Depends(require_admin)]
