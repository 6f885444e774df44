"""Reading policy YAML files into compiled policies, with errors that name the file, the field
path and the reason.

A file goes through three steps: the schema validates the document section by section, the
cross-reference checks follow what the sections say about each other, and `compile_policy`
builds the frozen `Policy` the SLA core reads.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError

from shared.calendar import ALWAYS, BusinessCalendar
from shared.policy.compiled import Policy, Target, TargetKey, find_target
from shared.policy.references import check_references
from shared.policy.schema import METRICS, NO_PLAN, PolicyDocument


class PolicyError(ValueError):
    """A policy file that cannot be used; the message lists every problem found."""


def policy_dir() -> Path:
    """`TICKETFLOW_POLICY_DIR`, else the repository's `policies/`."""
    configured = os.environ.get("TICKETFLOW_POLICY_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "policies"


def load_policy_file(path: Path) -> Policy:
    document = _validated(path, _read(path))
    try:
        return compile_policy(document)
    except ValueError as exc:
        # Reported as pydantic reports a whole-model validator's error, which these checks
        # were before the compiled policy: users and tests know the messages in this shape.
        raise PolicyError(f"{path}: (top level): Value error, {exc}") from exc


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


def compile_policy(document: PolicyDocument) -> Policy:
    """The policy `document` states, ready for the SLA core; raises `ValueError` naming the
    first problem when its calendars cannot be built or a reference goes nowhere."""
    calendars = build_calendars(document)
    check_references(document, calendars)
    metrics = MappingProxyType(dict(document.metrics))
    plans = tuple(document.plans)
    targets: dict[TargetKey, Target | None] = {
        key: find_target(metrics, calendars, key, {})
        for key in itertools.product(METRICS, document.priorities, (*plans, NO_PLAN, None))
    }
    return Policy(
        spec=document,
        ref=f"{document.id}@{document.version}",
        id=document.id,
        version=document.version,
        name=document.name,
        priorities=tuple(document.priorities),
        default_priority=document.default_priority,
        plans=plans,
        plan_required=document.plan_required,
        warning_fraction=document.warning_fraction,
        severity_change=document.severity_change,
        metrics=metrics,
        intake=document.intake,
        charges=tuple(document.charges),
        escalation=document.escalation,
        calendars=MappingProxyType(calendars),
        targets=MappingProxyType(targets),
    )


def build_calendars(document: PolicyDocument) -> dict[str, BusinessCalendar]:
    """The built-in `24x7` and every calendar the document defines, by name."""
    if "24x7" in document.calendars:
        raise ValueError("calendars: '24x7' is built in; name yours differently")
    built = {"24x7": ALWAYS}
    for name, spec in document.calendars.items():
        built[name] = spec.build(name)
    return built


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: a policy must be a YAML mapping")
    return raw


def _validated(path: Path, raw: dict[str, Any]) -> PolicyDocument:
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"{path}: {where}: {error['msg']}")
        raise PolicyError("\n".join(lines)) from exc
