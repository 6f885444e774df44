"""Per-API-key rate limiting: a token bucket per key (`rate` requests a second on average,
bursts up to `burst`), in memory, per replica. A request over the limit is told how long
to wait (`Retry-After`); the refused requests are counted.

The limit is per replica: behind N replicas a key gets up to N times the rate. That is the
documented trade-off for needing no shared store on the request path."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

RATE_LIMITED = Counter(
    "ticketflow_rate_limited_total", "Requests refused with 429 (per API key limit)", ["service"]
)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`take(key)` returns None when the request may go ahead, else the seconds to wait.

    `rate <= 0` turns limiting off. Buckets of keys idle long enough to be full again are
    dropped once the table grows past `max_keys`, so memory stays bounded."""

    def __init__(
        self,
        service: str,
        rate: float,
        burst: int,
        *,
        now: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if not math.isfinite(rate) or (rate > 0 and burst < 1):
            raise ValueError("a rate limit needs a finite rate and a burst of at least 1")
        self.service = service
        self.rate = rate
        self.burst = burst
        self._now = now
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float | None:
        if not self.enabled:
            return None
        now = self._now()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        RATE_LIMITED.labels(self.service).inc()
        return (1 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        idle = [key for key, b in self._buckets.items() if now - b.at >= full_after]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()


def retry_after_header(wait_s: float) -> str:
    """`Retry-After` in whole seconds, never 0 (a client told 0 retries at once)."""
    return str(max(1, math.ceil(wait_s)))
