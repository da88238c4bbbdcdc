"""What this process asked of each outside service, per store: calls, 429s, 5xx and retries.

Counted where every call to a service goes through (multistore.retry): one call per attempt
(a retry is a call too, and also counted as a retry), with the answer's status when it failed.
Per process, keyed by store and service: a store pipeline reads the counts before and after its
run, and their difference is the run's `api` statistics (the report, /metrics).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from threading import Lock
from typing import TypeVar

import httpx

T = TypeVar("T")
KEYS = ("calls", "rate_limited", "server_errors", "retries")

_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
_lock = Lock()


def record(service: str, store: str | None, *, retry: bool, status: int | None = None) -> None:
    with _lock:
        counts = _counts[store or "", service]
        counts["calls"] += 1
        counts["retries"] += retry
        counts["rate_limited"] += status == 429
        counts["server_errors"] += status is not None and status >= 500


def snapshot(store: str) -> dict[str, dict[str, int]]:
    """The counts so far of `store`, by service."""
    with _lock:
        return {
            service: {key: counts[key] for key in KEYS}
            for (who, service), counts in _counts.items()
            if who == store
        }


def since(before: dict[str, dict[str, int]], store: str) -> dict[str, dict[str, int]]:
    """The counts of `store` since `before` (a `snapshot`), by service, services with calls."""
    now = snapshot(store)
    out = {}
    for service, counts in now.items():
        base = before.get(service, {})
        diff = {key: counts[key] - base.get(key, 0) for key in KEYS}
        if diff["calls"]:
            out[service] = diff
    return dict(sorted(out.items()))


def counted(fn: Callable[[], T], *, service: str, store: str | None) -> Callable[[], T]:
    """`fn` counting each attempt (the first a call, the next ones retries too)."""
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        try:
            result = fn()
        except Exception as exc:
            record(service, store, retry=attempts > 1, status=_status(exc))
            raise
        record(service, store, retry=attempts > 1)
        return result

    return attempt


def acounted(
    fn: Callable[[], Awaitable[T]], *, service: str, store: str | None
) -> Callable[[], Awaitable[T]]:
    """The asynchronous `counted`."""
    attempts = 0

    async def attempt() -> T:
        nonlocal attempts
        attempts += 1
        try:
            result = await fn()
        except Exception as exc:
            record(service, store, retry=attempts > 1, status=_status(exc))
            raise
        record(service, store, retry=attempts > 1)
        return result

    return attempt


def _status(exc: BaseException) -> int | None:
    return exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
