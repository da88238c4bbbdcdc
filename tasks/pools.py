"""The pools as Prefect global concurrency limits: create them, and `PREFECT_POOLS`, the
`multistore.calls.Pools` the clients hold slots and wait for rates through.

A slot is held around just the scarce part of a task (the page, the batch request), not around
whole tasks: PREFECT_NOTES.md measured that this bounds as well as a tag limit and costs nothing
elsewhere. `strict=True` everywhere: a pool that was never created is an error, not an unlimited
pool.

A slot's lease is short (`SLOT_LEASE_SECONDS`, the server's minimum) and Prefect renews it while
the holder lives, so a holder killed with -9 gives its slot back within about a minute, not the
default five. A renewal that fails (the server restarting) is logged and the work goes on: the
vendor work in hand is worth more than the slot's exactness for the minute it takes.

A rate (`rate:<pool>`) is a Prefect limit with slot decay, as the UI shows and edits it, but it is
not polled: Prefect's waiters sleep a Retry-After and let decayed slots go unused, so it delivered
0.84-0.99 of its decay depending on the machine's load (multistore/pacer.py). Each call instead
reserves its instant from `multistore.pacer` at the limit's own figures (decay × 60 per minute,
its limit the burst), read from the server at most once a minute per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency as aconcurrency
from prefect.concurrency.sync import concurrency

from multistore.pacer import RatePacer
from multistore.pools import PoolSpec, rate_name

SLOT_LEASE_SECONDS = 60.0
# How long a process trusts a rate's figures read from the server (an edit in the UI applies
# within this long).
RATE_REFRESH_SECONDS = 60.0


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

    def __init__(self) -> None:
        self._pacer: RatePacer | None = None
        self._rates: dict[str, tuple[float, tuple[float, int] | None]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        with concurrency(
            name,
            occupy=1,
            strict=True,
            lease_duration=SLOT_LEASE_SECONDS,
            raise_on_lease_renewal_failure=False,
        ):
            yield

    def throttle(self, name: str) -> None:
        pace = self._rate(rate_name(name))
        if pace is None:  # switched off in the UI: no pace, as Prefect's own limit would
            return
        if self._pacer is None:
            self._pacer = RatePacer()
        self._pacer.wait(rate_name(name), *pace)

    def _rate(self, limit_name: str) -> tuple[float, int] | None:
        """(per minute, burst) of the Prefect rate limit `limit_name`; None when inactive."""
        with self._lock:
            read_at, pace = self._rates.get(limit_name, (float("-inf"), None))
            if time.monotonic() - read_at < RATE_REFRESH_SECONDS:
                return pace
            with get_client(sync_client=True) as client:
                # strict, as everywhere: a rate that was never created is an error (404).
                limit = client.read_global_concurrency_limit_by_name(limit_name)
            decay = limit.slot_decay_per_second or 0.0
            pace = (decay * 60.0, max(1, limit.limit)) if limit.active and decay > 0 else None
            self._rates[limit_name] = (time.monotonic(), pace)
            return pace


PREFECT_POOLS = PrefectPools()


@asynccontextmanager
async def apool_slot(
    name: str, *, occupy: int = 1, lease_seconds: float = SLOT_LEASE_SECONDS
) -> AsyncIterator[None]:
    """A slot of pool `name` for async tasks, on the same short, renewed lease (and the same
    rule: a failed renewal is logged, the work goes on)."""
    async with aconcurrency(
        name,
        occupy=occupy,
        strict=True,
        lease_duration=lease_seconds,
        raise_on_lease_renewal_failure=False,
    ):
        yield
