"""The published AsyncAPI document parses with the real `@asyncapi/parser` (pinned under
tools/contracts, installed by `make install`) without any error or warning diagnostic."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from shared.events.contracts import CONTRACTS_DIR

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "contracts" / "parse-asyncapi.mjs"
NODE = "/usr/bin/node"


def parse(document: Path) -> tuple[int, dict[str, Any]]:
    assert (ROOT / "tools/contracts/node_modules/@asyncapi/parser").is_dir(), "run `make install`"
    done = subprocess.run(
        [NODE, str(SCRIPT), str(document)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_asyncapi_document_parses_without_errors_or_warnings() -> None:
    returncode, result = parse(CONTRACTS_DIR / "asyncapi.json")
    assert result["parsed"] is True
    assert result["errors"] == 0, result["diagnostics"]
    assert result["warnings"] == 0, result["diagnostics"]
    assert returncode == 0


def test_a_broken_copy_of_the_document_is_reported_as_an_error(tmp_path: Path) -> None:
    shutil.copytree(CONTRACTS_DIR, tmp_path / "contracts")
    broken = tmp_path / "contracts" / "asyncapi.json"
    document = json.loads(broken.read_text())
    del document["info"]["title"]
    document["channels"]["escalations"]["messages"] = {
        "escalation_event": {"$ref": "#/components/messages/no_such_message"}
    }
    broken.write_text(json.dumps(document))
    returncode, result = parse(broken)
    assert returncode == 1
    assert result["errors"] >= 1
    assert {d["severity"] for d in result["diagnostics"]} >= {"error"}
