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

Taking a slot is retried when the Prefect server fails (503 "database is locked" on a busy
SQLite, any 5xx or 429, no answer), backing off `ACQUIRE_DELAYS` on top of Prefect's own client
retries: the orchestrator's hiccup must not fail a store. Should it last through them all, the
call ends in `OrchestratorBusy`, which the store pipeline never counts toward quarantine.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager

import httpx
from prefect.client.orchestration import get_client
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.asyncio import concurrency as aconcurrency
from prefect.concurrency.sync import concurrency, rate_limit

from multistore.calls import OrchestratorBusy
from multistore.clock import SYSTEM_CLOCK
from multistore.pools import PoolSpec, rate_name
from multistore.settings import get_settings

SLOT_LEASE_SECONDS = 60.0
# Waits between tries of a slot the server failed to grant: about a minute in all.
ACQUIRE_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
logger = logging.getLogger("multistore.pools")


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
    ) -> None:
        self.sleep = sleep
        self.delays = delays

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        with ExitStack() as held:
            self._acquire(
                name,
                lambda: held.enter_context(
                    concurrency(
                        name,
                        occupy=1,
                        strict=True,
                        lease_duration=SLOT_LEASE_SECONDS,
                        raise_on_lease_renewal_failure=False,
                    )
                ),
            )
            yield

    def throttle(self, name: str) -> None:
        self._acquire(name, lambda: rate_limit(rate_name(name), occupy=1, strict=True))

    def _acquire(self, name: str, take: Callable[[], object]) -> None:
        """`take()`, again after each of `delays` while the Prefect server fails."""
        for tries, delay in enumerate((*self.delays, None), start=1):
            try:
                take()
                return
            except Exception as exc:
                if not _server_failure(exc):
                    raise  # a pool never created, a bug: not the server's hiccup
                if delay is None:
                    raise OrchestratorBusy(
                        f"pool {name}: the Prefect server did not grant a slot in {tries} tries "
                        f"({_reason(exc)}): the orchestrator's failure, not the vendor's"
                    ) from exc
                logger.warning(
                    "pool %s: the Prefect server failed (%s); trying again in %g s",
                    name,
                    _reason(exc),
                    delay,
                )
                self.sleep(0.0 if get_settings().instant_backoff else delay)


def slot_refused_by_server(exc: BaseException) -> bool:
    """Prefect's own slot check of a tagged task (its tag limits) failed on a server error: the
    orchestrator's failure, as an `OrchestratorBusy` of ours is."""
    return isinstance(exc, ConcurrencySlotAcquisitionError) and _server_failure(exc)


def _server_failure(exc: BaseException) -> bool:
    """A 5xx or 429 from the Prefect server, or no answer, anywhere in `exc`'s causes."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, httpx.HTTPStatusError):
            return seen.response.status_code >= 500 or seen.response.status_code == 429
        if isinstance(seen, httpx.TransportError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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
