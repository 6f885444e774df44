"""Reading policy YAML files, with errors that name the file, the field path and the reason."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from shared.policy.model import Policy


class PolicyError(ValueError):
    """A policy file that cannot be used; the message lists every problem found."""


def policy_dir() -> Path:
    """`TICKETFLOW_POLICY_DIR`, else the repository's `policies/`."""
    configured = os.environ.get("TICKETFLOW_POLICY_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "policies"


def load_policy_file(path: Path) -> Policy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: a policy must be a YAML mapping")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"{path}: {where}: {error['msg']}")
        raise PolicyError("\n".join(lines)) from exc


def load_policies(directory: Path | None = None) -> dict[str, Policy]:
    """Every `*.yaml` in `directory`, keyed by policy id; duplicate ids are an error."""
    folder = directory or policy_dir()
    policies: dict[str, Policy] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            policy = load_policy_file(path)
        except PolicyError as exc:
            problems.append(str(exc))
            continue
        if policy.id in policies:
            problems.append(f"{path}: id: policy {policy.id!r} is defined twice")
        policies[policy.id] = policy
    if problems:
        raise PolicyError("\n".join(problems))
    if not policies:
        raise PolicyError(f"{folder}: no *.yaml policy files")
    return policies


def policies_by_ref(directory: Path | None = None) -> dict[str, Policy]:
    """Every loaded policy under its pinned reference (`voipster@1`), as events carry it."""
    return {policy.ref: policy for policy in load_policies(directory).values()}
