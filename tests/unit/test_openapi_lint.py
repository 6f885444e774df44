"""Every service's OpenAPI document passes `redocly lint` with the recommended rules."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.billing.entrypoints.api import create_app as billing_app
from services.console.entrypoints.web import create_app as console_app
from services.escalation.entrypoints.api import create_app as escalation_app
from services.intake.entrypoints.api import create_app as intake_app
from services.intake.entrypoints.deps import IntakeDeps
from services.notify.entrypoints.api import create_app as notify_app
from services.sla.entrypoints.openapi import document as sla_document

PROBES = {"~1healthz", "~1readyz", "~1metrics"}
REDOCLY = Path(__file__).resolve().parents[2] / "tools/contracts/node_modules/.bin/redocly"


async def _ready() -> dict[str, bool]:
    return {"database": True, "broker": True}


def _intake() -> dict[str, Any]:
    deps = IntakeDeps(
        store=None,  # type: ignore[arg-type]
        accounts=None,  # type: ignore[arg-type]
        idempotency=None,  # type: ignore[arg-type]
        policies={},
        now=lambda: datetime.now(UTC),
        random_digits=lambda n: "0" * n,
        new_ticket_id=uuid.uuid4,
        admin_token="t",
        readiness=_ready,
    )
    return intake_app(deps).openapi()


DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "intake": _intake,
    "sla": sla_document,
    "escalation": lambda: escalation_app().openapi(),
    "notify": lambda: notify_app().openapi(),
    "billing": lambda: billing_app().openapi(),
    "console": lambda: console_app().openapi(),
}


def lint(document: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    run = subprocess.run(
        [str(REDOCLY), "lint", "--extends=recommended", "--format=json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(run.stdout[run.stdout.index("{") :])
    problems: list[dict[str, Any]] = report["problems"]
    return problems


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_the_openapi_document_lints_clean(service: str, tmp_path: Path) -> None:
    """Errors and warnings alike, except `operation-4xx-response` on the probes: they answer
    200 or 503 and have no client error to document."""
    problems = [
        (p["severity"], p["ruleId"], p["location"][0]["pointer"])
        for p in lint(DOCUMENTS[service](), tmp_path)
    ]
    remaining = [
        p
        for p in problems
        if not (p[1] == "operation-4xx-response" and p[2].split("/")[2] in PROBES)
    ]
    assert remaining == []


def test_the_linter_reports_a_document_without_servers(tmp_path: Path) -> None:
    document = sla_document()
    document["servers"] = []
    rules = {p["ruleId"] for p in lint(document, tmp_path) if p["severity"] == "error"}
    assert "no-empty-servers" in rules
