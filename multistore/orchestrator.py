"""The orchestrator's own calls (the Prefect server's), made to outlast its restarts.

A store's vendor work is worth more than the bookkeeping around it, so the calls a store run
makes to the Prefect server for itself (releasing a pool slot, loading a block, writing an
artifact, the parent starting a store's run) go through `through_outage` (`athrough_outage` in
async code; tasks/pools.py takes slots and waits on rates on a schedule of its own as long, whose
end is an `OrchestratorBusy` that never counts toward quarantine): while the server cannot be
reached (a refused or dropped connection, a timeout, an answer 5xx or 429) the call is tried
again after 1, 2, 4… s, at most `MAX_WAIT_SECONDS` apart, for up to `OUTAGE_SECONDS` (five
minutes: a server restart on a new release or a database failover).
One line is logged when the server goes away and one when it answers again. A call that still
fails raises `PrefectServerUnavailable`: one line naming the Prefect server and what was being
done, never the vendor, whose work did not fail. Any other error (a limit that does not exist,
a 404) passes through at once.

Prefect-free: the errors are recognised by the HTTP library's types anywhere in the cause chain
(Prefect wraps them), so the policy is tested without a server; the time source and the sleep are
injected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from multistore.settings import get_settings

T = TypeVar("T")

OUTAGE_SECONDS = 300.0
FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 15.0
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

logger = logging.getLogger("multistore.orchestrator")


class PrefectServerUnavailable(RuntimeError):
    """The Prefect server stayed unreachable through the outage budget; the message names it."""


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the server is away rather than that we erred."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response.status_code in TRANSIENT_STATUSES
        if isinstance(current, (httpx.TransportError, ConnectionError, TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False


def server_url() -> str:
    return get_settings().prefect_api_url or "(PREFECT_API_URL not set)"


class _Outage:
    """The bookkeeping of one call through an outage: when to give up, how long to wait next."""

    def __init__(self, what: str, budget: float, now: Callable[[], float]) -> None:
        self.what = what
        self.now = now
        self.deadline = now() + budget
        self.budget = budget
        self.wait = FIRST_WAIT_SECONDS
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """How long to wait before the next try; raises when the budget is spent."""
        if not is_outage(exc):
            raise exc
        cause = f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no answer'}"
        if self.now() >= self.deadline:
            raise PrefectServerUnavailable(
                f"Prefect server {server_url()} unreachable for {self.budget:.0f} s while "
                f"{self.what}: {cause}"
            ) from exc
        self.failures += 1
        if self.failures == 1:
            logger.warning(
                "Prefect server %s unreachable while %s (%s); trying again for up to %.0f s",
                server_url(),
                self.what,
                cause,
                self.budget,
            )
        wait = min(self.wait, max(0.0, self.deadline - self.now()))
        self.wait = min(self.wait * 2, MAX_WAIT_SECONDS)
        return wait

    def succeeded(self) -> None:
        if self.failures:
            logger.warning(
                "Prefect server %s answers again: %s done after %d failed tries",
                server_url(),
                self.what,
                self.failures,
            )


def through_outage(
    call: Callable[[], T],
    *,
    what: str,
    budget: float = OUTAGE_SECONDS,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, tried again while the Prefect server is away (see the module docstring);
    `what` says what the call does ("releasing a slot of pool 'browser' for store s1")."""
    outage = _Outage(what, budget, now)
    while True:
        try:
            result = call()
        except Exception as exc:
            sleep(outage.failed(exc))
            continue
        outage.succeeded()
        return result


async def athrough_outage(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    budget: float = OUTAGE_SECONDS,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`through_outage` for a coroutine function."""
    outage = _Outage(what, budget, now)
    while True:
        try:
            result = await call()
        except Exception as exc:
            await sleep(outage.failed(exc))
            continue
        outage.succeeded()
        return result
