"""The pools as Prefect global concurrency limits: create them, hold a slot, wait for the rate.

Held around just the scarce part of a task (the page, the batch request), not around whole tasks:
PREFECT_NOTES.md measured that this bounds as well as a tag limit and costs nothing elsewhere.
`strict=True` everywhere: a pool that was never created is an error, not an unlimited pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency as aconcurrency
from prefect.concurrency.sync import concurrency, rate_limit

from multistore.pools import PoolSpec


async def ensure_pools(specs: list[PoolSpec]) -> None:
    """Create or resize every pool (idempotent)."""
    async with get_client() as client:
        for spec in specs:
            await client.upsert_global_concurrency_limit_by_name(spec.name, spec.limit)
            if spec.per_minute is not None:
                await client.upsert_global_concurrency_limit_by_name(
                    spec.rate_name, spec.burst or spec.limit, spec.decay_per_second
                )


@contextmanager
def pool_slot(name: str, *, occupy: int = 1) -> Iterator[None]:
    """Hold `occupy` slots of pool `name` for the duration of the block."""
    with concurrency(name, occupy=occupy, strict=True):
        yield


@asynccontextmanager
async def apool_slot(
    name: str, *, occupy: int = 1, lease_seconds: float = 60
) -> AsyncIterator[None]:
    """`pool_slot` for async tasks. A short lease: a killed worker frees its slots in about
    `lease_seconds` (PREFECT_NOTES: the default lease held them ~300 s)."""
    async with aconcurrency(name, occupy=occupy, strict=True, lease_duration=lease_seconds):
        yield


def throttle(name: str, *, calls: int = 1) -> None:
    """Block until pool `name`'s rate limit allows `calls` more calls."""
    rate_limit(f"rate:{name}", occupy=calls, strict=True)
