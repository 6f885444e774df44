"""The cross-reference checks between a policy document's sections, and how the loader
reports them (the messages are the ones users of `ticketflow policy validate` know)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.policy import PolicyDocument, PolicyError, compile_policy, load_policy_file
from shared.policy.loader import build_calendars
from shared.policy.references import check_escalation, check_references
from shared.policy.schema import EscalationLevel, EscalationRule

BASE: dict[str, Any] = {
    "id": "demo",
    "version": 1,
    "name": "Demo",
    "document": "demo.pdf",
    "priorities": ["p1", "p2"],
    "plans": ["gold"],
    "calendars": {
        "office": {"timezone": "UTC", "hours": {"mon-fri": ["09:00-17:00"]}},
        "days": {
            "timezone": "UTC",
            "hours": {"mon-fri": ["09:00-17:00"]},
            "support_day_hours": 8,
        },
    },
    "metrics": {
        "first_response": {"targets": [{"priorities": ["p1"], "hours": 1}, {"hours": 4}]},
        "resolution": {"targets": [{"support_days": 2, "calendar": "days"}]},
    },
}


def document(**changes: Any) -> PolicyDocument:
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    return PolicyDocument.model_validate(raw)


def problem(doc: PolicyDocument) -> str:
    with pytest.raises(ValueError) as caught:
        compile_policy(doc)
    return str(caught.value)


def test_a_consistent_document_passes() -> None:
    doc = document()
    check_references(doc, build_calendars(doc))
    assert compile_policy(doc).ref == "demo@1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default_priority": "p9"}, "default_priority: unknown priority 'p9'"),
        (
            {"metrics": {"rfo": {"targets": [{"priorities": ["p9"], "hours": 1}]}}},
            "metrics.rfo.targets[0]: unknown priority 'p9'",
        ),
        (
            {"metrics": {"rfo": {"targets": [{"hours": 1}, {"plans": ["tin"], "hours": 1}]}}},
            "metrics.rfo.targets[1]: unknown plan 'tin'",
        ),
        (
            {"metrics": {"rfo": {"targets": [{"calendar": "nope", "hours": 1}]}}},
            "metrics.rfo.targets[0]: unknown calendar 'nope'",
        ),
        (
            {"metrics": {"rfo": {"targets": [{"calendar": "office", "support_days": 1}]}}},
            "metrics.rfo.targets[0]: calendar 'office' has no support_day_hours",
        ),
        (
            {"metrics": {"rfo": {"same_targets_as": "resolution", "targets": [{"hours": 1}]}}},
            "metrics.rfo: same_targets_as excludes targets",
        ),
        (
            {"metrics": {"rfo": {"same_targets_as": "resolution"}}},
            "metrics.rfo: no metric 'resolution'",
        ),
        (
            {
                "intake": {
                    "channels": [{"priorities": ["p9"], "channels": ["web"], "rejection": "r"}]
                }
            },
            "intake.channels[0]: unknown priority 'p9'",
        ),
        (
            {"intake": {"cutoff": {"after": "20:00", "calendar": "office", "priorities": ["p9"]}}},
            "intake.cutoff: unknown priority 'p9'",
        ),
        (
            {"intake": {"cutoff": {"after": "20:00", "calendar": "nope", "priorities": ["p1"]}}},
            "intake.cutoff: unknown calendar 'nope'",
        ),
        (
            {"intake": {"off_hours": [{"priorities": ["p1"], "calendar": "nope", "flag": "f"}]}},
            "intake.off_hours[0]: unknown calendar 'nope'",
        ),
        (
            {
                "intake": {
                    "entitlement": [{"priorities": ["p9"], "without": "accept", "message": "m"}]
                }
            },
            "intake.entitlement[0]: unknown priority 'p9'",
        ),
        (
            {"escalation": {"support_calendar": "nope"}},
            "escalation.support_calendar: unknown calendar 'nope'",
        ),
        (
            {"calendars": {"24x7": {"timezone": "UTC", "hours": {}}}},
            "calendars: '24x7' is built in; name yours differently",
        ),
    ],
)
def test_each_reference_is_checked(changes: dict[str, Any], message: str) -> None:
    assert problem(document(**changes)) == message


def test_the_built_in_24x7_calendar_has_support_days() -> None:
    doc = document(metrics={"resolution": {"targets": [{"support_days": 1}]}})
    target = compile_policy(doc).target("resolution", "p1", None)
    assert target is not None
    assert target.duration.total_seconds() == 24 * 3600


def test_the_escalation_matrix_names_every_unknown_reference_at_once() -> None:
    escalation = {
        "critical": ["p1", "p9"],
        "rules": [{"priorities": ["p8"], "plans": ["tin", "none"], "levels": [_level(1, 0)]}],
    }
    assert problem(document(escalation=escalation)) == (
        "escalation.critical: unknown priority 'p9'; "
        "escalation.rules[0].priorities: unknown priority 'p8'; "
        "escalation.rules[0].plans: unknown plan 'tin'"
    )


def test_an_account_override_of_the_matrix_is_checked_the_same_way() -> None:
    policy = compile_policy(document())
    with pytest.raises(ValueError, match=r"^escalation.critical: unknown priority 'p9'$"):
        policy.escalation_with({"critical": ["p9"]})
    with pytest.raises(ValueError, match="only levels, critical and rules"):
        policy.escalation_with({"support_calendar": "office"})
    assert policy.escalation_with({"critical": ["p1"]}).critical == ["p1"]
    assert policy.escalation_with(None) is policy.escalation
    spec = policy.escalation
    with pytest.raises(ValueError, match="unknown plan 'tin'"):
        check_escalation(
            spec.model_copy(update={"rules": [_rule(plans=["tin"])]}), ("p1",), ("gold",)
        )


def test_calendar_definitions_are_checked_before_references() -> None:
    calendars = {"bad": {"timezone": "UTC", "hours": {"fri-mon": ["09:00-17:00"]}}}
    doc = document(calendars=calendars, default_priority="p9")
    assert problem(doc) == "weekday range 'fri-mon' runs backwards"


def test_the_loader_reports_them_at_the_top_level_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    raw = copy.deepcopy(BASE)
    raw["default_priority"] = "p9"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert str(caught.value) == (
        f"{path}: (top level): Value error, default_priority: unknown priority 'p9'"
    )


def test_field_errors_are_all_listed_and_references_wait_for_a_valid_document(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo.yaml"
    raw = copy.deepcopy(BASE)
    raw.update(version=0, default_priority="p9", extra=1)
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert str(caught.value).splitlines() == [
        f"{path}: version: Input should be greater than or equal to 1",
        f"{path}: extra: Extra inputs are not permitted",
    ]


def _level(level: int, after_hours: float) -> dict[str, float]:
    return {"level": level, "after_hours": after_hours}


def _rule(**filters: Any) -> EscalationRule:
    return EscalationRule(levels=[EscalationLevel(level=1, after_hours=0)], **filters)
