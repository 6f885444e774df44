"""The compiled policy the loader builds: frozen, its lookups precomputed, and the same answers
as the document's target tables."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from shared.policy import METRICS, NO_PLAN, Policy, load_policies, load_policy_file, policy_dir


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return load_policies()


def test_a_compiled_policy_is_frozen(policies: dict[str, Policy]) -> None:
    policy = policies["voximplant"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.id = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.targets = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.targets[("resolution", "sev1", "gold")] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.calendars["24x7"] = policy.calendar("24x7")  # type: ignore[index]
    with pytest.raises(TypeError):
        del policy.metrics["resolution"]  # type: ignore[attr-defined]
    assert not hasattr(policy, "__dict__")  # slots: no attribute can be added either


def test_its_fields_are_the_documents(policies: dict[str, Policy]) -> None:
    for policy in policies.values():
        spec = policy.spec
        assert policy.ref == f"{spec.id}@{spec.version}"
        assert list(policy.priorities) == spec.priorities
        assert list(policy.plans) == spec.plans
        assert dict(policy.metrics) == spec.metrics
        assert policy.intake is spec.intake
        assert list(policy.charges) == spec.charges
        assert policy.escalation is spec.escalation
        assert set(policy.calendars) == {"24x7", *spec.calendars}
        assert policy.summary() == spec.model_dump(mode="json", exclude_none=True)


def test_the_target_table_covers_every_metric_priority_and_plan(
    policies: dict[str, Policy],
) -> None:
    for policy in policies.values():
        for metric in METRICS:
            for priority in policy.priorities:
                for plan in (*policy.plans, NO_PLAN, None):
                    assert (metric, priority, plan) in policy.targets


def test_lookups_outside_the_table_and_with_overrides_are_computed(
    policies: dict[str, Policy],
) -> None:
    policy = policies["voximplant"]
    assert policy.order_metrics() == ["resolution"]
    assert policy.target("resolution", "sev1", "gold") is None  # from the account's order
    ordered = policy.target("resolution", "sev1", "gold", {"resolution": 4})
    assert ordered is not None
    assert ordered.duration == timedelta(hours=4)
    first = policy.target("first_response", "sev1", "gold")
    assert first is not None
    assert policy.target("first_response", "sev1", "gold", {"resolution": 4}) == first
    assert policy.target("first_response", "sev9", "gold") is None
    assert policy.target("no_such_metric", "sev1", "gold") is None


def test_each_load_compiles_a_policy_of_its_own() -> None:
    path = policy_dir() / "voipster.yaml"
    first, second = load_policy_file(path), load_policy_file(path)
    assert first is not second
    assert first != second  # equality is identity: each has its own memo
    assert first.spec == second.spec
    assert first.memoised("k", lambda: 1) == 1
    assert second.memoised("k", lambda: 2) == 2
    assert first.memoised("k", lambda: 3) == 1
    assert repr(first) == "Policy(voipster@1)"
