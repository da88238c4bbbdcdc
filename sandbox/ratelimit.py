"""A vendor's account-wide rate limit: a token bucket."""

from __future__ import annotations

import math
import time


class TokenBucket:
    """At most `burst` calls at once, then `per_minute / 60` per second.

    `take()` returns 0 when the call may proceed, else the whole seconds to wait (Retry-After).
    """

    def __init__(self, *, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> int:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return max(1, math.ceil((1 - self.tokens) / self.rate))
