"""A call to an outside service through its circuit breaker and the retry policy.

Each attempt passes the service's breaker, so an outage counts every failed attempt, opens the
circuit after the configured number, and the next attempt fails at once with CircuitOpenError
(which the retry policy does not retry). Rate limiting (429) is not an outage: it is retried
after Retry-After and leaves the breaker alone, as do the caller's own errors (a 404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from multistore import retry
from multistore.breaker import CircuitBreaker, breaker

T = TypeVar("T")


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the service is down (5xx, timeout, refused) rather than busy or fussy."""
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 429:
        return False
    return retry.is_retryable(exc)


def guarded_call(
    fn: Callable[[], T],
    *,
    service: str,
    store: str | None = None,
    circuit: CircuitBreaker | None = None,
    **retry_options: Any,
) -> T:
    """`fn()` with the breaker of `service` around every attempt and `retry.call` around all."""
    circuit = circuit or breaker(service)

    def attempt() -> T:
        with circuit.guard(counts=is_outage):
            return fn()

    return retry.call(attempt, service=service, store=store, **retry_options)
