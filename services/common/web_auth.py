"""FastAPI dependencies shared by the escalation and notify APIs: the running app's deps
object (set by the lifespan; it has `keys` and, for admin routes, `admin_token`), the API key
(scoped to accounts, and rate limited when the app has a limiter: `http_limits.install_limits`)
and the admin token; and how the OpenAPI document declares them (`document_security`)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request

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


OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
API_KEY_SCHEMES: dict[str, Any] = {
    "ApiKeyBearer": {"type": "http", "scheme": "bearer", "description": "An API key, `tf_...`"},
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
}
ADMIN_SCHEME: dict[str, Any] = {
    "AdminToken": {"type": "http", "scheme": "bearer", "description": "The admin token"}
}


def document_security(app: FastAPI, admin_prefix: str | None = None) -> None:
    """Declare in `app.openapi()` what each operation accepts: nothing on the probes, the
    admin token under `admin_prefix` (None: the app has no admin routes, and the document
    declares only the API key schemes), an API key everywhere else."""
    generate = app.openapi
    schemes = {**API_KEY_SCHEMES, **(ADMIN_SCHEME if admin_prefix is not None else {})}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = schemes
        for path, operations in schema["paths"].items():
            security: list[dict[str, list[str]]] = (
                []
                if path in OPEN_PATHS
                else [{"AdminToken": []}]
                if admin_prefix is not None and path.startswith(admin_prefix)
                else [{"ApiKeyBearer": []}, {"ApiKeyHeader": []}]
            )
            for operation in operations.values():
                operation.setdefault("security", security)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
