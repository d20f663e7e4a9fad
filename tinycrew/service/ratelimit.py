"""Per-key rate limit: a token bucket each, so a key may burst and then runs at its steady rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; each request takes one.

    Example: `TokenBucket(rate=1.0, burst=2).take()` returns 0.0 (allowed) twice, then the seconds to wait.
    """

    rate: float
    burst: int
    tokens: float = -1.0
    updated: float = 0.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = float(self.burst)
        self.updated = self.clock()

    def take(self) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is there (nothing is taken)."""
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimiter:
    """One bucket per caller (a key digest, or a client address when no keys are configured).

    Example: `RateLimiter(per_minute=60, burst=5).check("key-digest")` is 0.0 until the burst is spent.
    """

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    @property
    def enabled(self) -> bool:
        """A rate of 0 turns the limit off."""
        return self.rate > 0

    def check(self, caller: str) -> float:
        """0.0 when `caller` may go on, else the seconds it should wait (for Retry-After)."""
        if not self.enabled:
            return 0.0
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = TokenBucket(rate=self.rate, burst=self.burst)
        return bucket.take()
