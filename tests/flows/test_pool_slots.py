"""Pool slots on a real Prefect server: a lease renewal that fails is logged and the work goes on,
for the sync slot the clients hold and the async one (`apool_slot`) alike."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

pytestmark = pytest.mark.prefect

POOL = "renewal-test-pool"


@pytest.fixture
def failing_renewals(prefect_server, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Every lease renewal fails at once (no retries); the event is set once Prefect has handled
    the failure (where it would cancel the holder's work if told to)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.concurrency import _leases

    handled = threading.Event()
    original = _leases._handle_lease_renewal_failure

    def handle(*args, **kwargs):
        try:
            original(*args, **kwargs)
        finally:
            handled.set()

    def renew(*args, **kwargs):
        raise ConnectionError("the Prefect server is restarting")

    monkeypatch.setattr(_leases, "_RENEWAL_MAX_ATTEMPTS", 1)
    monkeypatch.setattr(_leases, "_handle_lease_renewal_failure", handle)
    monkeypatch.setattr(SyncPrefectClient, "renew_concurrency_lease", renew)
    from multistore.pools import PoolSpec
    from tasks.pools import ensure_pools

    asyncio.run(ensure_pools([PoolSpec(name=POOL, limit=1)]))
    return handled


def test_a_failed_renewal_does_not_stop_work_holding_a_sync_slot(failing_renewals) -> None:
    from tasks.pools import PREFECT_POOLS

    finished = False
    with PREFECT_POOLS.slot(POOL):
        assert failing_renewals.wait(30), "the renewal never ran"
        finished = True
    assert finished


async def test_a_failed_renewal_does_not_cancel_work_holding_an_async_slot(
    failing_renewals,
) -> None:
    from tasks.pools import apool_slot

    finished = False
    async with apool_slot(POOL):
        assert await asyncio.to_thread(failing_renewals.wait, 30), "the renewal never ran"
        await asyncio.sleep(0)  # a cancelled scope raises at the next checkpoint
        finished = True
    assert finished


def test_a_full_paced_pool_is_asked_again_after_a_second_not_prefects_retry_after(
    prefect_server,
) -> None:
    """A rate pool's slot is held for a whole scrub; when its holder lets go, a waiting store must
    take it at its next ask, a second later, not after Prefect's Retry-After (up to ~40 s once
    holders keep slots for long), or the vendor's rate goes unused meanwhile."""
    from multistore.pools import PoolSpec
    from tasks.pools import SLOT_POLL_SECONDS, PrefectPools, ensure_pools

    pool = "paced-poll-test"
    asyncio.run(ensure_pools([PoolSpec(name=pool, limit=1, per_minute=60, burst=1)]))
    held, let_go = threading.Event(), threading.Event()

    def holder() -> None:
        with PrefectPools().slot(pool):
            held.set()
            let_go.wait(30)  # only a bound: the waiter's first ask lets it go

    asked: list[float] = []

    def ask_again(seconds: float) -> None:
        asked.append(seconds)
        let_go.set()
        thread.join(30)  # the slot is back on the server before the waiter asks again

    # The holder runs in Prefect's settings of this test (the server the fixture points at).
    thread = threading.Thread(target=contextvars.copy_context().run, args=(holder,))
    thread.start()
    assert held.wait(30), "the holder never got its slot"
    with PrefectPools(sleep=ask_again).slot(pool):
        pass
    thread.join(30)
    assert asked == [SLOT_POLL_SECONDS]


async def test_an_async_slot_is_given_back_through_a_server_that_refuses_the_release(
    prefect_server,
) -> None:
    """The server answers 503 to the first two releases (Prefect's own client retries off): the
    work that held the slot does not fail, the release is tried again on the outage schedule
    (waits on an injected sleep), and the slot is back."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from multistore.pools import PoolSpec
    from tasks.pools import apool_slot, ensure_pools
    from tests.fixtures.prefect_proxy import FlakyProxy

    pool = "release-test-pool"
    await ensure_pools([PoolSpec(name=pool, limit=1)])
    refusals = 2

    def refuse(method: str, path: str, body: bytes) -> bool:
        nonlocal refusals
        if method == "POST" and path.endswith("/concurrency_limits/decrement-with-lease"):
            refusals -= 1
            return refusals >= 0
        return False

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    proxy = FlakyProxy(prefect_server.url, refuse)
    try:
        with temporary_settings({PREFECT_API_URL: proxy.api_url, PREFECT_CLIENT_MAX_RETRIES: 0}):
            async with apool_slot(pool, sleep=sleep):
                pass
    finally:
        proxy.close()
    assert proxy.refused == 2 and len(waits) == 2
    async with get_client() as client:
        limit = await client.read_global_concurrency_limit_by_name(pool)
    assert limit.active_slots == 0
