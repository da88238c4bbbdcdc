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

The server's restarts are outlasted (multistore/orchestrator.py): taking a slot, waiting on a
rate and releasing the slot are tried again while the server is away, for up to five minutes. A
release that still fails never fails the work that held the slot: it is logged, and the slot
comes back when its lease lapses (no holder renews it any more). The pieces of Prefect's
`concurrency()` are used one by one for that, because its release is one untried call whose
ConnectError fails the task after its vendor work is done.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.concurrency._asyncio import _discard_cleanup_lease
from prefect.concurrency._events import (
    emit_concurrency_acquisition_events,
    emit_concurrency_release_events,
)
from prefect.concurrency._leases import maintain_concurrency_lease
from prefect.concurrency._sync import (
    acquire_concurrency_slots_with_lease,
    release_concurrency_slots_with_lease,
)
from prefect.concurrency.asyncio import concurrency as aconcurrency
from prefect.concurrency.sync import rate_limit

from multistore.orchestrator import PrefectServerUnavailable, through_outage
from multistore.pools import PoolSpec, rate_name

SLOT_LEASE_SECONDS = 60.0

logger = logging.getLogger("multistore.orchestrator")


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
        taken = through_outage(
            lambda: acquire_concurrency_slots_with_lease(
                [name], 1, lease_duration=SLOT_LEASE_SECONDS, strict=True
            ),
            what=f"taking a slot of pool {name!r}",
        )
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
        through_outage(
            lambda: rate_limit(rate_name(name), occupy=1, strict=True),
            what=f"waiting on the rate of pool {name!r}",
        )


PREFECT_POOLS = PrefectPools()


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
