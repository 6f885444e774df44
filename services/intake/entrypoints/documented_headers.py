"""Request headers the intake API reads itself, and how the OpenAPI document declares them.

FastAPI solves every declared header parameter and sub-dependency on every request (about
14 us each here, measured on the append endpoint), so the credentials and the two optional
POST headers are read from the request and declared in the document instead: the keys as
security schemes (added to each operation whose dependencies check them), `Idempotency-Key`
and `If-Match` as header parameters of the operations that honour them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

IDEMPOTENCY_KEY = "idempotency-key"
IF_MATCH = "if-match"


def _optional_header(
    name: str, description: str, example: str, schema: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
        "example": example,
    }


_IDEMPOTENCY_KEY_PARAMETER = _optional_header(
    "Idempotency-Key",
    "Any unique string per logical request, 1 to 255 visible ASCII characters (no spaces): a "
    "retry with the same key returns the first response (header `Idempotent-Replayed: true`) "
    "and writes nothing; any other value is a 400",
    "3f0c2a52-retry-safe",
    {"minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
)
_IF_MATCH_PARAMETER = _optional_header(
    "If-Match",
    "The ticket version (its ETag, ASCII digits up to 2147483647) this event was decided on; "
    "409 with the current version if the ticket has moved since; anything else is a 400",
    '"3"',
    {"pattern": '^(W/)?"?[0-9]{1,10}"?$'},
)
IDEMPOTENT: dict[str, Any] = {"parameters": [_IDEMPOTENCY_KEY_PARAMETER]}
CONDITIONAL: dict[str, Any] = {"parameters": [_IDEMPOTENCY_KEY_PARAMETER, _IF_MATCH_PARAMETER]}

SECURITY_SCHEMES = {
    "ApiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key `tf_<id>_<secret>` issued by an admin; it can reach only "
        "the tickets of its accounts",
    },
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "The same API key, for clients that cannot send a bearer token",
    },
    "AdminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The deployment's admin token (`TICKETFLOW_ADMIN_TOKEN`)",
    },
}


NO_CREDENTIALS: list[dict[str, list[str]]] = []
"""An operation that needs no credentials (health probes), said explicitly."""


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _api_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route with its full path. FastAPI 0.165 keeps an included router as one
    entry of `app.routes` (its `original_router` holds the routes, `include_context` the
    prefix it was included under); earlier versions copied the routes in."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path_format, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


def _security_of(
    route: APIRoute, key_check: Callable[..., Any], admin_check: Callable[..., Any]
) -> list[dict[str, list[str]]] | None:
    """The schemes `route` accepts, from the checks among its dependencies (None: neither)."""
    calls = set(_calls(route.dependant))
    if key_check in calls:
        return [{"ApiKeyBearer": []}, {"ApiKeyHeader": []}]
    if admin_check in calls:
        return [{"AdminToken": []}]
    return None


def document_security(
    app: FastAPI, key_check: Callable[..., Any], admin_check: Callable[..., Any]
) -> None:
    """Make `app.openapi()` declare the security schemes, and on every operation whose
    dependencies include `key_check` or `admin_check`, the scheme it accepts."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for path, route in _api_routes(app.routes):
            security = _security_of(route, key_check, admin_check)
            if not route.include_in_schema or security is None:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = security
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                if isinstance(operation, dict) and "security" not in operation:
                    admin = path.startswith("/v1/admin/")
                    operation["security"] = [{"AdminToken": []}] if admin else NO_CREDENTIALS
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
