"""The per-key token bucket: bursts, refill, Retry-After, bounded memory, off switch."""

from __future__ import annotations

import pytest

from services.common.rate_limit import RATE_LIMITED, RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(service: str) -> float:
    return RATE_LIMITED.labels(service)._value.get()


def test_a_burst_passes_then_the_next_request_waits_for_one_token() -> None:
    clock = Clock()
    limiter = RateLimiter("t-burst", rate=2.0, burst=3, now=clock)
    before = refused("t-burst")
    assert [limiter.take("k") for _ in range(3)] == [None, None, None]
    wait = limiter.take("k")
    assert wait == pytest.approx(0.5)
    assert refused("t-burst") == before + 1
    clock.now += 0.5
    assert limiter.take("k") is None
    assert limiter.take("k") is not None


def test_keys_do_not_share_a_bucket() -> None:
    limiter = RateLimiter("t-keys", rate=1.0, burst=1, now=Clock())
    assert limiter.take("a") is None
    assert limiter.take("a") is not None
    assert limiter.take("b") is None


def test_refill_never_exceeds_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter("t-cap", rate=10.0, burst=2, now=clock)
    clock.now += 3600
    assert [limiter.take("k") is None for _ in range(3)] == [True, True, False]


def test_rate_zero_turns_limiting_off() -> None:
    limiter = RateLimiter("t-off", rate=0, burst=0, now=Clock())
    assert not limiter.enabled
    assert all(limiter.take("k") is None for _ in range(10_000))


def test_idle_buckets_are_dropped_so_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter("t-mem", rate=1.0, burst=1, now=clock, max_keys=100)
    for i in range(100):
        limiter.take(f"k{i}")
    clock.now += 5
    limiter.take("new")
    assert len(limiter._buckets) == 1


@pytest.mark.parametrize("rate", [float("nan"), float("inf")])
def test_a_non_finite_rate_is_refused(rate: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter("t-bad", rate=rate, burst=1)


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"
