"""The policy's intake rules as `decide_acceptance` applies them: which refusal wins, and
what an accepted ticket carries (flags in rule order, metrics without a target, clock start)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.policy import Policy, PolicyDocument, compile_policy
from shared.sla.intake import decide_acceptance

DEMO: dict[str, Any] = {
    "id": "demo",
    "version": 1,
    "name": "Demo",
    "document": "demo.pdf",
    "priorities": ["urgent", "normal"],
    "plans": ["gold", "free"],
    "calendars": {"office": {"timezone": "UTC", "hours": {"mon-fri": ["09:00-17:00"]}}},
    "metrics": {
        "first_response": {"targets": [{"hours": 2, "calendar": "office"}]},
        "resolution": {"targets": [{"hours": 8, "calendar": "office"}]},
    },
    "intake": {
        "channels": [{"priorities": ["urgent"], "channels": ["phone"], "rejection": "call us"}],
        "cutoff": {"after": "16:00", "calendar": "office", "priorities": ["normal"]},
        "spam": {"channels": ["email"], "no_target_for": ["first_response"]},
        "plans_without_support": ["free"],
        "entitlement": [
            {"priorities": ["urgent"], "without": "reject", "message": "no agreement"},
            {
                "without": "accept",
                "flag": "billable",
                "no_target_for": ["resolution"],
                "message": "-",
            },
        ],
        "off_hours": [{"priorities": ["normal"], "calendar": "office", "flag": "off_hours"}],
    },
}
TUESDAY_NOON = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
TUESDAY_EVENING = datetime(2026, 11, 17, 18, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return compile_policy(PolicyDocument.model_validate(DEMO))


def refusal(policy: Policy, **data: Any) -> str | None:
    return decide_acceptance(policy, data, TUESDAY_NOON).rejection


def test_refusals_in_order(policy: Policy) -> None:
    unentitled_email = {"channel": "email", "entitled": False, "approved_contact": False}
    assert refusal(policy, priority="p9", plan="tin", **unentitled_email) == (
        "unknown priority 'p9' for demo (expected one of: urgent, normal)"
    )
    assert refusal(policy, priority="urgent", plan="tin", **unentitled_email) == (
        "unknown plan 'tin' for demo (expected one of: gold, free)"
    )
    assert refusal(policy, priority="urgent", **unentitled_email) == (
        "the contact is not on the account's approved contacts; only approved contacts "
        "may open tickets. Ask an account administrator to add them."
    )
    assert refusal(policy, priority="urgent", channel="email", entitled=False) == "call us"
    assert refusal(policy, priority="urgent", channel="phone", entitled=False) == "no agreement"
    assert refusal(policy, priority="urgent", channel="phone", plan="free") == "no agreement"
    assert refusal(policy, priority="urgent", channel="phone") is None


def test_a_required_plan(policy: Policy) -> None:
    strict = compile_policy(PolicyDocument.model_validate({**DEMO, "plan_required": True}))
    assert refusal(strict, priority="normal", channel="web") == (
        "demo needs the account's plan (gold, free) on the ticket"
    )
    assert refusal(strict, priority="normal", channel="web", plan="none") is None


def test_an_accepted_ticket_carries_every_rules_terms_in_order(policy: Policy) -> None:
    data = {"priority": "normal", "channel": "email", "spam": True, "plan": "free"}
    verdict = decide_acceptance(policy, data, TUESDAY_EVENING)
    assert verdict.accepted
    assert verdict.flags == ("billable", "spam", "off_hours", "after_cutoff")
    assert verdict.no_target_for == frozenset({"first_response", "resolution"})
    assert verdict.clock_start == datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def test_an_entitled_ticket_in_hours_has_no_terms(policy: Policy) -> None:
    verdict = decide_acceptance(policy, {"priority": "normal", "channel": "web"}, TUESDAY_NOON)
    assert (verdict.accepted, verdict.flags, verdict.no_target_for) == (True, (), frozenset())
    assert verdict.clock_start == TUESDAY_NOON


def test_the_cutoff_minute_itself_is_not_after_it(policy: Policy) -> None:
    at_cutoff = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
    just_after = datetime(2026, 11, 17, 16, 0, 0, 1, tzinfo=UTC)
    data = {"priority": "normal", "channel": "web"}
    assert decide_acceptance(policy, data, at_cutoff).clock_start == at_cutoff
    assert decide_acceptance(policy, data, just_after).flags == ("after_cutoff",)


PAYLOAD_VALUES = {
    "priority": st.sampled_from(["urgent", "normal", "p9", None, 1]),
    "plan": st.sampled_from(["gold", "free", "tin", "none", None, 1, True]),
    "approved_contact": st.sampled_from([True, False, 1, 0, None, "yes"]),
    "channel": st.sampled_from(["phone", "email", "web", None]),
    "entitled": st.sampled_from([True, False, 1, 0, None]),
    "spam": st.sampled_from([True, False, 1, None]),
}


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries({}, optional=PAYLOAD_VALUES),
    st.sampled_from([TUESDAY_NOON, TUESDAY_EVENING]),
)
def test_the_memoised_verdict_is_the_rules_verdict(data: dict[str, Any], at: datetime) -> None:
    """The time-independent rules are decided once per payload shape and policy: whatever
    came before (here: every earlier example, on one policy), the verdict is the one the
    rules give afresh, `1` and `True` included (equal keys, different messages)."""
    shared = compile_policy(PolicyDocument.model_validate(DEMO)) if not MEMOISED else MEMOISED[0]
    MEMOISED[:] = [shared]
    fresh = compile_policy(PolicyDocument.model_validate(DEMO))
    assert decide_acceptance(shared, data, at) == decide_acceptance(fresh, data, at)


MEMOISED: list[Policy] = []


def test_an_absent_field_and_a_null_one_do_not_share_a_verdict(policy: Policy) -> None:
    # The rules read an absent approved_contact as approved, an explicit null as not.
    absent = {"priority": "normal", "channel": "web"}
    assert refusal(policy, **absent) is None
    assert refusal(policy, **absent, approved_contact=None) is not None
    assert refusal(policy, **absent) is None


def test_a_number_and_a_bool_do_not_share_a_verdict(policy: Policy) -> None:
    assert refusal(policy, priority="urgent", channel="phone", plan=True) == (
        "unknown plan True for demo (expected one of: gold, free)"
    )
    assert refusal(policy, priority="urgent", channel="phone", plan=1) == (
        "unknown plan 1 for demo (expected one of: gold, free)"
    )
