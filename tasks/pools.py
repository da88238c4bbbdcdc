"""The pools as Prefect global concurrency limits: create them, and `PREFECT_POOLS`, the
`multistore.calls.Pools` the clients hold slots and wait for rates through.

A slot is held around just the scarce part of a task (the page, the batch request), not around
whole tasks: PREFECT_NOTES.md measured that this bounds as well as a tag limit and costs nothing
elsewhere. `strict=True` everywhere: a pool that was never created is an error, not an unlimited
pool.

A slot's lease is short (`SLOT_LEASE_SECONDS`, the server's minimum) and Prefect renews it while
the holder lives, so a holder killed with -9 gives its slot back within 75 s (the lease plus the
server's 15 s repossessor; measured 31.8-69.1 s, docs/deployments.md), not the default five
minutes. A renewal that fails (the server restarting) is logged and the work goes on: the
vendor work in hand is worth more than the slot's exactness for the minute it takes.

A rate (`rate:<pool>`) is a Prefect limit with slot decay, as the UI shows and edits it, but it is
not polled: Prefect's waiters sleep a Retry-After and let decayed slots go unused, so it delivered
0.84-0.99 of its decay depending on the machine's load (multistore/pacer.py). Each call instead
reserves its instant from `multistore.pacer` at the limit's own figures (decay × 60 per minute,
its limit the burst), read from the server at most once a minute per process.

The orchestrator's hiccups fail no store (multistore/orchestrator.py says which errors are the
server's: a 503 "database is locked" on a busy SQLite, any 5xx or 429, no answer):

- taking a slot or waiting on a rate is tried again, backing off `ACQUIRE_DELAYS` (about five
  minutes: a server restart) on top of Prefect's own client retries; should the server fail
  through them all, the call ends in `OrchestratorBusy`, which names the Prefect server and
  never counts toward the store's quarantine;
- releasing a slot is tried again for as long, and never fails the work that held it: when the
  server stays away the slot comes back when its lease lapses (no holder renews it any more).
  The pieces of Prefect's `concurrency()` are used one by one for that, because its release is
  one untried call whose ConnectError failed the task after its vendor work was done.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse
from prefect.concurrency._asyncio import (
    ConcurrencySlotAcquisitionError,
    _discard_cleanup_lease,
    aacquire_concurrency_slots_with_lease,
    arelease_concurrency_slots_with_lease,
)
from prefect.concurrency._events import (
    emit_concurrency_acquisition_events,
    emit_concurrency_release_events,
)
from prefect.concurrency._leases import amaintain_concurrency_lease, maintain_concurrency_lease
from prefect.concurrency._sync import (
    acquire_concurrency_slots_with_lease,
    release_concurrency_slots_with_lease,
)
from prefect.exceptions import ObjectNotFound

from multistore.calls import OrchestratorBusy
from multistore.clock import SYSTEM_CLOCK
from multistore.orchestrator import (
    PrefectServerUnavailable,
    athrough_outage,
    is_outage,
    server_url,
    through_outage,
)
from multistore.pacer import RatePacer
from multistore.pools import PoolSpec, rate_name
from multistore.settings import get_settings

T = TypeVar("T")

SLOT_LEASE_SECONDS = 60.0
# Waits between tries of a slot the server failed to grant: about five minutes in all.
ACQUIRE_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0)
logger = logging.getLogger("multistore.pools")
# How long a process trusts a rate's figures read from the server (an edit in the UI applies
# within this long).
RATE_REFRESH_SECONDS = 60.0
_MISSING = object()  # a rate limit the server does not have (cached like a read one)
# How often a waiter asks again for a full pool's slot when the pool has a rate (`_take`).
SLOT_POLL_SECONDS = 1.0


async def ensure_pools(specs: list[PoolSpec]) -> None:
    """Create or resize every pool (idempotent)."""
    async with get_client() as client:
        for spec in specs:
            await client.upsert_global_concurrency_limit_by_name(spec.name, spec.limit)
            if spec.per_minute is not None:
                await client.upsert_global_concurrency_limit_by_name(
                    spec.rate_name, spec.burst or spec.limit, spec.decay_per_second
                )


class PrefectPools:
    """Prefect's global concurrency limits as the call policy's pools."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = SYSTEM_CLOCK.sleep,
        delays: tuple[float, ...] = ACQUIRE_DELAYS,
        poll_seconds: float = SLOT_POLL_SECONDS,
        acquire_slot: Callable[..., ConcurrencyLimitWithLeaseResponse] = (
            acquire_concurrency_slots_with_lease
        ),
    ) -> None:
        self.sleep = sleep
        self.delays = delays
        self.poll_seconds = poll_seconds
        self._acquire_slot = acquire_slot
        self._pacer: RatePacer | None = None
        self._rates: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        taken = self._acquire(name, lambda: self._take(name))
        events = emit_concurrency_acquisition_events(taken.limits, 1)
        try:
            with maintain_concurrency_lease(
                taken.lease_id, SLOT_LEASE_SECONDS, raise_on_lease_renewal_failure=False
            ):
                yield
        finally:
            _release(name, taken.lease_id)
            emit_concurrency_release_events(taken.limits, 1, events)

    def throttle(self, name: str) -> None:
        pace = self._acquire(name, lambda: self._rate(rate_name(name)))
        if pace is None:  # switched off in the UI: no pace, as Prefect's own limit would
            return
        if self._pacer is None:
            self._pacer = RatePacer()
        self._pacer.wait(rate_name(name), *pace)

    def _take(self, name: str) -> ConcurrencyLimitWithLeaseResponse:
        """A slot of `name`. While the pool is full Prefect's client sleeps the server's
        Retry-After, which grows with the slots' average holding time up to about 40 s. A pool
        with a rate is held for a session (a whole scrub), so that wait would leave the vendor's
        rate unused after its holders finish: its slot is asked for again every
        `SLOT_POLL_SECONDS` instead."""
        paced = self._rate(rate_name(name), missing_ok=True) is not None
        while True:
            try:
                return self._acquire_slot(
                    [name],
                    1,
                    lease_duration=SLOT_LEASE_SECONDS,
                    strict=True,
                    max_retries=0 if paced else None,
                )
            except ConcurrencySlotAcquisitionError as exc:
                if not (paced and _pool_full(exc)):
                    raise
            self.sleep(self.poll_seconds)

    def _rate(self, limit_name: str, *, missing_ok: bool = False) -> tuple[float, int] | None:
        """(per minute, burst) of the Prefect rate limit `limit_name`; None when inactive (or,
        with `missing_ok`, never created)."""
        with self._lock:
            read_at, pace = self._rates.get(limit_name, (float("-inf"), None))
            fresh = time.monotonic() - read_at < RATE_REFRESH_SECONDS
            if fresh and (pace is not _MISSING or missing_ok):
                return None if pace is _MISSING else pace
            with get_client(sync_client=True) as client:
                try:
                    limit = client.read_global_concurrency_limit_by_name(limit_name)
                except ObjectNotFound:
                    # strict, as everywhere: a rate that was never created is an error (404)
                    # to whoever paces on it; the slot only asks whether there is one.
                    self._rates[limit_name] = (time.monotonic(), _MISSING)
                    if not missing_ok:
                        raise
                    return None
            decay = limit.slot_decay_per_second or 0.0
            pace = (decay * 60.0, max(1, limit.limit)) if limit.active and decay > 0 else None
            self._rates[limit_name] = (time.monotonic(), pace)
            return pace

    def _acquire(self, name: str, take: Callable[[], T]) -> T:
        """`take()`, again after each of `delays` while the Prefect server fails."""
        for tries, delay in enumerate((*self.delays, None), start=1):
            try:
                return take()
            except Exception as exc:
                if not is_outage(exc):
                    raise  # a pool never created, a bug: not the server's hiccup
                if delay is None:
                    raise OrchestratorBusy(
                        f"pool {name}: the Prefect server {server_url()} did not grant a slot "
                        f"in {tries} tries ({_reason(exc)}): the orchestrator's failure, not "
                        "the vendor's"
                    ) from exc
                logger.warning(
                    "pool %s: the Prefect server %s failed (%s); trying again in %g s",
                    name,
                    server_url(),
                    _reason(exc),
                    delay,
                )
                self.sleep(0.0 if get_settings().instant_backoff else delay)
        raise AssertionError("unreachable")


def slot_refused_by_server(exc: BaseException) -> bool:
    """Prefect's own slot check of a tagged task (its tag limits) failed on a server error: the
    orchestrator's failure, as an `OrchestratorBusy` of ours is."""
    return isinstance(exc, ConcurrencySlotAcquisitionError) and is_outage(exc)


def _pool_full(exc: BaseException) -> bool:
    """Whether the server refused a slot because the pool is full (423), not failed."""
    cause = exc.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423


def _release(name: str, lease_id: UUID) -> None:
    """Give the slot back; when the server stays away, leave it to the lease (never raise)."""
    try:
        through_outage(
            lambda: release_concurrency_slots_with_lease(lease_id),
            what=f"releasing a slot of pool {name!r}",
        )
    except PrefectServerUnavailable as exc:
        logger.warning("%s; the slot comes back when its lease lapses", exc)
        return  # Prefect's task-run cleanup tries the lease once more when the task ends
    _discard_cleanup_lease(lease_id)


def _reason(exc: BaseException) -> str:
    """The root cause in one line ("HTTPStatusError: Server error '503 …' for url …")."""
    root = exc
    for _ in range(10):
        if root.__cause__ is None:
            break
        root = root.__cause__
    return " ".join(f"{type(root).__name__}: {root}".split())[:200]


PREFECT_POOLS = PrefectPools()


@asynccontextmanager
async def apool_slot(
    name: str,
    *,
    occupy: int = 1,
    lease_seconds: float = SLOT_LEASE_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[None]:
    """A slot of pool `name` for async tasks, on the same short, renewed lease and the same
    rules as `PrefectPools.slot`: a failed renewal is logged and the work goes on, and the
    release waits through a server outage (never failing the work that held the slot)."""
    taken = await aacquire_concurrency_slots_with_lease(
        [name], occupy, lease_duration=lease_seconds, strict=True
    )
    events = emit_concurrency_acquisition_events(taken.limits, occupy)
    try:
        async with amaintain_concurrency_lease(
            taken.lease_id, lease_seconds, raise_on_lease_renewal_failure=False
        ):
            yield
    finally:
        await _arelease(name, taken.lease_id, sleep)
        emit_concurrency_release_events(taken.limits, occupy, events)


async def _arelease(
    name: str, lease_id: UUID, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    """`_release` for async code."""
    try:
        await athrough_outage(
            lambda: arelease_concurrency_slots_with_lease(lease_id),
            what=f"releasing a slot of pool {name!r}",
            sleep=sleep,
        )
    except PrefectServerUnavailable as exc:
        logger.warning("%s; the slot comes back when its lease lapses", exc)
        return
    _discard_cleanup_lease(lease_id)
