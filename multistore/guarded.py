"""A call to an outside service through the retry policy and the service's circuit breaker.

The breaker sits outside the retries: one call (with all its retries) is one success or one
failure, so one store's broken endpoint costs that store a failed call and leaves the other
stores' calls alone, while a service that fails call after call, store after store, opens the
circuit. While it is open the next calls fail at once with CircuitOpenError: no request, no
retry waited. Only outages count (5xx, timeouts, refused connections, after the retries): a 4xx
is the caller's problem, and rate limiting is waited out by the retry policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from multistore import retry
from multistore.breaker import CircuitBreaker, breaker

T = TypeVar("T")


def is_outage(exc: BaseException) -> bool:
    """Whether a failed call says the service is down, rather than refusing this request."""
    if isinstance(exc, retry.ServiceError):
        return exc.status is None or exc.status >= 500
    return retry.is_retryable(exc)


def guarded_call(
    fn: Callable[[], T],
    *,
    service: str,
    store: str | None = None,
    circuit: CircuitBreaker | None = None,
    **retry_options: Any,
) -> T:
    """`retry.call(fn)` inside the breaker of `service` (see the module's rule)."""
    circuit = circuit or breaker(service)
    with circuit.guard(counts=is_outage):
        return retry.call(fn, service=service, store=store, **retry_options)
