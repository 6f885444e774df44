"""The OpenAPI 3.1 document of the SLA worker's HTTP API, served at `/openapi.json`.

The view's schema is generated from the pydantic model (`shared.sla.view_model.SlaView`, which
intake's document uses too); the rest is written here, next to the routes it describes
(`web.py`)."""

from __future__ import annotations

from typing import Any

from shared.sla.view_model import SlaView

API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

SECURITY_SCHEMES: dict[str, Any] = {
    "ApiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key `tf_<id>_<secret>` issued by intake's admin API; it reads "
        "only the tickets of its accounts (another account's ticket answers 404, as an "
        "unknown one does). Rate limited per key and worker (429 with Retry-After).",
    },
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "The same API key, for clients that cannot send a bearer token",
    },
    "InternalToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The deployment's internal token (`TICKETFLOW_INTERNAL_TOKEN`), for "
        "other ticketflow services: every account, not rate limited",
    },
}
AUTHENTICATED: list[dict[str, list[str]]] = [
    {"ApiKeyBearer": []},
    {"ApiKeyHeader": []},
    {"InternalToken": []},
]
NO_CREDENTIALS: list[dict[str, list[str]]] = []

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    if headers:
        response["headers"] = headers
    return response


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _bounds() -> dict[str, Any]:
    return {
        "400": _problem("A request header longer than the limit (8 KiB by default)"),
        "413": _problem("A request body: the API is read-only"),
    }


def _ticket_sla() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "getTicketSla",
            "tags": ["sla"],
            "summary": "The ticket's SLA clocks: status, due times, remaining business time, "
            "pauses",
            "description": "Any worker answers: the request is forwarded to the worker owning "
            "the ticket's partition.",
            "security": AUTHENTICATED,
            "parameters": [
                {
                    "name": "ticket_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            ],
            "responses": {
                "200": _json("The SLA view", {"$ref": "#/components/schemas/SlaView"}),
                **_bounds(),
                "401": _problem(
                    "No credential, or an unknown or revoked one",
                    {
                        "WWW-Authenticate": {
                            "description": "`Bearer`",
                            "schema": {"type": "string"},
                        }
                    },
                ),
                "404": _problem(
                    "No SLA state for this ticket (yet), or a ticket of another account"
                ),
                "422": _problem("The ticket id is not a UUID"),
                "429": _problem("The API key's rate limit is exhausted", RETRY_AFTER),
                "503": _problem(
                    "The API keys could not be checked, or the worker owning the ticket did "
                    "not answer (partitions being reassigned)",
                    RETRY_AFTER,
                ),
            },
        }
    }


def _open(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["operations"],
            "summary": summary,
            "description": "Open (no credential): for Kubernetes probes and Prometheus; "
            "keep it reachable from the cluster only (network policy).",
            "security": NO_CREDENTIALS,
            "responses": {**responses, **_bounds()},
        }
    }


def _paths() -> dict[str, Any]:
    status = {"type": "object", "properties": {"status": {"type": "string"}}}
    return {
        "/v1/tickets/{ticket_id}/sla": _ticket_sla(),
        "/healthz": _open("healthz", "Liveness", {"200": _json("The process answers", status)}),
        "/readyz": _open(
            "readyz",
            "Readiness: partition state recovered and timers rebuilt",
            {
                "200": _json("Ready: `partitions` assigned, reconciliation state", status),
                "503": _json("Recovering, rebalancing, or timers stuck", status),
            },
        ),
        "/metrics": _open(
            "metrics",
            "Prometheus metrics",
            {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["operations"],
                "summary": "This document",
                "description": "Open (no credential).",
                "security": NO_CREDENTIALS,
                "responses": {
                    "200": _json("OpenAPI 3.1", {"type": "object"}),
                    **_bounds(),
                },
            }
        },
    }


def document() -> dict[str, Any]:
    view = SlaView.model_json_schema(mode="serialization", ref_template=REF)
    schemas: dict[str, Any] = view.pop("$defs", {})
    schemas["SlaView"] = view
    schemas["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ticketflow SLA service",
            "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
            "version": API_VERSION,
            "description": "Read model of every ticket's SLA clocks, served by the SLA "
            "workers. `/v1/...` needs an API key or the internal token; `/healthz`, "
            "`/readyz`, `/metrics` and `/openapi.json` are open. Every error is "
            "`application/problem+json`.",
        },
        "servers": [{"url": "/", "description": "The host serving this document"}],
        "security": AUTHENTICATED,
        "paths": _paths(),
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }
