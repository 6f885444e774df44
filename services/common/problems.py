"""RFC 9457 problem details (`application/problem+json`) for every error the API returns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"


class Problem(Exception):
    """`extra` members go into the body; `headers` into the response (e.g. Retry-After)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        return {
            "type": f"https://ticketflow.dev/problems/{slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extra,
        }


def problem_response(
    problem: Problem, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM,
        headers={**problem.headers, **(headers or {})},
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        unreadable = _unreadable_body(request, exc)
        if unreadable is not None:
            error = {"field": "body", "message": unreadable}
            problem = Problem(422, "Invalid request", unreadable, errors=[error])
            return problem_response(problem, request)
        errors = [{"field": _field(err, exc.body), "message": err["msg"]} for err in exc.errors()]
        fields = ", ".join(e["field"] or "body" for e in errors)
        problem = Problem(422, "Invalid request", f"invalid fields: {fields}", errors=errors)
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        problem = Problem(exc.status_code, title, str(exc.detail))
        return problem_response(problem, request)


def _field(err: Any, body: Any) -> str:
    """The dotted path of the field an error is about, as the client sent it: pydantic puts
    a discriminated union's tag (`ticket.assigned`) into the path, and names no field when
    the tag itself is wrong or missing."""
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return str(err.get("ctx", {}).get("discriminator", "")).strip("'")
    loc = [str(part) for part in err["loc"]]
    if loc[:1] == ["body"]:
        loc = loc[1:]
        if isinstance(body, dict) and loc[:1] == [body.get("type")]:
            loc = loc[1:]
    return ".".join(loc)


def _unreadable_body(request: Request, exc: RequestValidationError) -> str | None:
    """Why the body could not be read at all, or None when it was read and only its fields are
    wrong. FastAPI reports a JSON syntax error with the character offset as the field name and a
    non-JSON body as a body that is not an object: neither tells the caller what to fix."""
    for err in exc.errors():
        if err["type"] == "json_invalid":
            body = exc.body
            try:
                json.loads(body if isinstance(body, str | bytes) else "")
            except json.JSONDecodeError as decode_error:
                return f"request body is not valid JSON: {decode_error}"
            except ValueError as other:
                return f"request body is not valid JSON: {other}"
            return f"request body is not valid JSON: {err.get('ctx', {}).get('error', err['msg'])}"
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    is_json = media_type == "application/json" or media_type.endswith("+json")
    if not is_json and any(tuple(err["loc"]) == ("body",) for err in exc.errors()):
        sent = media_type or "no Content-Type"
        return f"request body must be application/json (got {sent})"
    return None


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; refusals add members such as `field`, "
    "`current_version`, `limit_chars` or `errors`",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "The request field at fault, if one"},
        "errors": {
            "type": "array",
            "description": "Each invalid field of a 422 validation problem",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "additionalProperties": True,
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
EVERY_REQUEST = {
    "400": "A header too large or malformed",
    "408": "Headers or body too slow to arrive",
    "413": "The request body is over the limit",
    "503": "A part the service needs is unreachable; retry after `Retry-After`",
}
WITH_CREDENTIALS = {
    "401": "No credential, or not a valid one",
    "429": "The API key is over its request rate; retry after `Retry-After`",
}
WITH_BODY_OR_PARAMETERS = {"422": "Invalid request: `errors` names each field"}


def document_problems(app: FastAPI) -> None:
    """Make `app.openapi()` say what errors look like: every error response of every operation
    is an `application/problem+json` Problem (FastAPI's default 422 schema, which the API
    never sends, is gone), and each operation lists the errors any request can meet (limits,
    outages), a credential's (401, 429) and a validated request's (422)."""
    generate = app.openapi
    done: list[dict[str, Any]] = []  # the document once described (FastAPI caches it)

    def openapi() -> dict[str, Any]:
        schema = generate()
        if done and done[0] is schema:
            return schema
        done[:] = [schema]
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for operations in schema["paths"].values():
            for operation in operations.values():
                if isinstance(operation, dict) and "responses" in operation:
                    _problem_responses(operation)
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _problem_responses(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    if operation.get("tags") == ["operations"]:
        extra: dict[str, str] = {}  # probes: answered before any limit or credential
    else:
        extra = dict(EVERY_REQUEST)
        if operation.get("security"):
            extra |= WITH_CREDENTIALS
        if operation.get("parameters") or operation.get("requestBody"):
            extra |= WITH_BODY_OR_PARAMETERS
        if any(p.get("in") == "path" for p in operation.get("parameters", ())):
            extra["404"] = "No such resource, or one of an account the key cannot see"
    for status, description in extra.items():
        responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = {PROBLEM: {"schema": PROBLEM_REF}}
            if response.get("description") == "Validation Error":
                response["description"] = WITH_BODY_OR_PARAMETERS["422"]
