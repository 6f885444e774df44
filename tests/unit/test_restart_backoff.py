"""The delay before `ticketflow dev` restarts a process that died."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.devstack.backoff import BackoffPolicy

POLICY = BackoffPolicy(initial=0.5, factor=2.0, maximum=30.0, stable_after=60.0)


def test_delay_doubles_from_half_a_second_up_to_thirty() -> None:
    delays = [POLICY.delay(streak) for streak in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_death_soon_after_a_start_extends_the_streak() -> None:
    assert POLICY.next_streak(0, uptime=0.3) == 1
    assert POLICY.next_streak(3, uptime=59.9) == 4


def test_a_death_after_a_stable_run_starts_a_new_streak() -> None:
    assert POLICY.next_streak(7, uptime=60.0) == 1
    assert POLICY.delay(POLICY.next_streak(7, uptime=3600)) == 0.5


def test_a_very_long_streak_stays_at_the_maximum() -> None:
    assert POLICY.delay(10_000) == 30.0


@given(st.integers(min_value=1, max_value=5_000))
def test_delay_is_monotonic_and_bounded(streak: int) -> None:
    assert POLICY.initial <= POLICY.delay(streak) <= POLICY.delay(streak + 1) <= POLICY.maximum


def test_streaks_count_from_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        POLICY.delay(0)


@pytest.mark.parametrize(
    "fields",
    [{"initial": 0}, {"factor": 0.5}, {"initial": 10, "maximum": 5}],
)
def test_unusable_policies_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="unusable"):
        BackoffPolicy(**fields)
