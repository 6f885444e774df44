"""The SLA worker's OpenAPI document: valid OpenAPI 3.1, true to the views the worker
returns, and covering exactly the routes it serves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31
from typer.testing import CliRunner

from services.cli.main import app as cli
from services.sla.domain.view import sla_view
from services.sla.entrypoints.openapi import document
from shared.sla.view_model import SlaView
from tests.unit.sla_helpers import policies
from tests.unit.sla_tracked import OPEN, T0, incoming, track

VIEWS = {
    "running": lambda: track(incoming("opened", 0, 1, **OPEN)),
    "paused": lambda: track(incoming("opened", 0, 1, **OPEN), incoming("awaiting_customer", 5, 2)),
    "resumed and met": lambda: track(
        incoming("opened", 0, 1, **OPEN),
        incoming("awaiting_customer", 5, 2),
        incoming("customer_replied", 30, 3),
        incoming("responded", 40, 4),
    ),
    "rejected": lambda: track(incoming("opened", 0, 1, channel="email", priority="nope")),
    "waiting for its opening": lambda: track(incoming("responded", 40, 2)),
}


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document()
    jsonschema.Draft202012Validator(OPENAPI_31).validate(spec)
    for schema in spec["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_sla_endpoint_needs_a_credential_and_answers_problems() -> None:
    spec = document()
    operation = spec["paths"]["/v1/tickets/{ticket_id}/sla"]["get"]
    assert {name for scheme in operation["security"] for name in scheme} == {
        "ApiKeyBearer",
        "ApiKeyHeader",
        "InternalToken",
    }
    assert set(spec["components"]["securitySchemes"]) == {
        "ApiKeyBearer",
        "ApiKeyHeader",
        "InternalToken",
    }
    responses = operation["responses"]
    for status in ("400", "401", "404", "413", "422", "429", "503"):
        assert "application/problem+json" in responses[status]["content"], status
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert spec["paths"][path]["get"]["security"] == [], path


@pytest.mark.parametrize("case", sorted(VIEWS))
def test_the_view_schema_accepts_what_the_worker_returns(case: str) -> None:
    view = orjson.loads(orjson.dumps(sla_view(VIEWS[case](), T0 + timedelta(minutes=50))))
    SlaView.model_validate(view)  # extra="forbid": a field the model lacks fails here
    schema = {"$ref": "#/components/schemas/SlaView", **document()}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(view)


def test_the_view_schema_refuses_an_undocumented_field() -> None:
    view: dict[str, Any] = orjson.loads(
        orjson.dumps(sla_view(VIEWS["running"](), T0 + timedelta(minutes=5)))
    )
    view["metrics"]["first_response"]["surprise"] = 1
    schema = {"$ref": "#/components/schemas/SlaView", **document()}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(view)


def test_the_document_covers_exactly_the_routes_the_worker_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.sla.bootstrap import wire as create_app
    from services.sla.settings import SlaSettings

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:9/none")
    monkeypatch.setenv("TICKETFLOW_SLA_DATA_DIR", str(tmp_path))
    app, _ = create_app(SlaSettings(), policies())
    served = {
        resource.canonical for resource in app.web.web_app.router.resources()
    }  # pages only: Faust's blueprints are mounted when the server starts
    assert served - {"/"} == set(document()["paths"])


def test_the_cli_prints_the_document() -> None:
    result = CliRunner().invoke(cli, ["sla", "openapi"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output) == document()
