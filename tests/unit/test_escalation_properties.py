"""Property tests of the escalation timing every page relies on (hypothesis), and of the
webhook signature."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.escalation.domain import escalation as machine
from services.escalation.domain.escalation import Trigger
from services.escalation.domain.matrix import matrix_for
from services.notify.domain.signing import BadSignature, sign, verify
from shared.policy import load_policies

POLICIES = load_policies()
WITH_QUIET_HOURS = ["voipster", "hosted-voice", "kolmisoft-mor"]
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(policy_id=st.sampled_from(WITH_QUIET_HOURS), at=instants, data=st.data())
def test_a_non_critical_page_never_lands_outside_support_hours(
    policy_id: str, at: datetime, data: st.DataObject
) -> None:
    policy = POLICIES[policy_id]
    matrix = matrix_for(policy)
    priority = data.draw(
        st.sampled_from([p for p in policy.priorities if not matrix.is_critical(p)])
    )
    page = matrix.page_time(priority, at)
    assert page >= at
    assert matrix.calendar.is_open(page)
    if matrix.calendar.is_open(at):
        assert page == at


@settings(max_examples=300, deadline=None)
@given(policy_id=st.sampled_from(sorted(POLICIES)), at=instants, data=st.data())
def test_levels_come_in_order_and_critical_ones_never_wait(
    policy_id: str, at: datetime, data: st.DataObject
) -> None:
    policy = POLICIES[policy_id]
    matrix = matrix_for(policy)
    priority = data.draw(st.sampled_from(policy.priorities))
    plan = data.draw(st.sampled_from([None, *policy.plans]))
    metric = data.draw(st.sampled_from(["first_response", "resolution"]))
    if matrix.is_critical(priority):
        assert matrix.page_time(priority, at) == at
    previous = at
    for level in range(1, len(matrix.after_hours(priority, plan, metric))):
        due = matrix.next_level_due(priority, plan, metric, level, at)
        assert due is not None and due >= previous
        previous = due
    last = len(matrix.after_hours(priority, plan, metric))
    assert matrix.next_level_due(priority, plan, metric, last, at) is None


@settings(max_examples=200, deadline=None)
@given(at=instants, acked_after=st.integers(min_value=0, max_value=10_000))
def test_after_an_acknowledgement_no_level_is_ever_paged(at: datetime, acked_after: int) -> None:
    matrix = matrix_for(POLICIES["voximplant"])
    trigger = Trigger(
        uuid.uuid4(), "sla.breached", "t", "a", "voximplant@1", "sev2", "first_response", at
    )
    state, _ = machine.on_raise(None, trigger, matrix)
    assert state is not None
    state, _ = machine.acknowledge(state, "jane", at + timedelta(seconds=acked_after))
    assert state is not None
    assert machine.on_due(state, matrix, at + timedelta(days=30)) == (state, [])


@given(
    body=st.binary(max_size=2000),
    secret=st.text(min_size=1, max_size=64),
    timestamp=st.integers(min_value=1_600_000_000, max_value=2_000_000_000),
)
def test_a_signature_verifies_only_its_own_body_within_the_window(
    body: bytes, secret: str, timestamp: int
) -> None:
    header = sign(secret, timestamp, body)
    verify(secret, header, body, timestamp + 299)
    with pytest.raises(BadSignature):
        verify(secret, header, body + b"x", timestamp)
    with pytest.raises(BadSignature):
        verify(secret + "x", header, body, timestamp)
    with pytest.raises(BadSignature):
        verify(secret, header, body, timestamp + 301)
    for malformed in ("", "t=abc,v1=00", "v1=00", f"t={timestamp}"):
        with pytest.raises(BadSignature):
            verify(secret, malformed, body, timestamp)
