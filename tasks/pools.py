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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency as aconcurrency
from prefect.concurrency.sync import concurrency, rate_limit

from multistore.pools import PoolSpec, rate_name

SLOT_LEASE_SECONDS = 60.0


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
        rate_limit(rate_name(name), occupy=1, strict=True)


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
