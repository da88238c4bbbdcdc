"""A store's own caps, in one process: slots of a shared pool it holds at once, jobs at once.

The pools are the in-process fake (sandbox.fakes.FakePools), which reads back the most slots held
at once; the jobs are stand-ins the test lets finish one at a time, so nothing here waits for time
to pass. An uncapped store beside each case shows what the cap takes away.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from flows.store_pipeline import _run_graph
from multistore.calls import Caller, store_pools
from multistore.jobgraph import DEFAULT_JOBS, build_graph
from multistore.pools import API_DNC, BROWSER
from multistore.runstats import COMPLETED, JobRecord
from sandbox.fakes import FakePools

WAIT = 10.0  # the most a state is polled for before the test fails (never a time to pass)


def _until(pools: FakePools, ready: Callable[[], bool]) -> None:
    with pools.changed:
        assert pools.changed.wait_for(ready, timeout=WAIT), "the state never came"


def _hold_sessions(store: str, pool: str, caps: dict[str, int], sessions: int) -> int:
    """`sessions` of one store's clients each hold a slot of `pool` (a browser page, a request
    in flight) until the test lets one go; returns the most the pools saw held at once."""
    pools = FakePools()
    let_go = threading.Semaphore(0)
    done: list[int] = []

    def session(i: int) -> None:
        caller = Caller(
            "vdp",
            store=store,
            pools=store_pools(pools, store, caps),
            pool=pool,
            hold="session",
            breaker=False,
        )
        with caller.session():
            let_go.acquire()
        with pools.changed:
            done.append(i)
            pools.changed.notify_all()

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    cap = caps.get(pool, sessions)
    for finished in range(sessions):
        _until(pools, lambda n=finished: pools.in_use[pool] == min(cap, sessions - n))
        let_go.release()
        _until(pools, lambda n=finished: len(done) == n + 1)
    for thread in threads:
        thread.join(WAIT)
    assert sorted(done) == list(range(sessions))
    return pools.peak[pool]


@pytest.mark.parametrize(("pool", "cap", "sessions"), [(BROWSER, 1, 3), (API_DNC, 2, 4)])
def test_a_store_never_holds_more_of_a_pool_than_its_cap(pool: str, cap: int, sessions: int):
    assert _hold_sessions(f"capped-{pool}", pool, {pool: cap}, sessions) == cap
    # Without a cap the same sessions hold the pool all at once: the cap is what bounds them.
    assert _hold_sessions(f"free-{pool}", pool, {}, sessions) == sessions


def test_a_cap_on_one_pool_leaves_the_others_alone() -> None:
    assert _hold_sessions("browser-capped", API_DNC, {BROWSER: 1}, 3) == 3


def _run_jobs(max_jobs: int | None) -> tuple[int, list[str], dict[str, JobRecord]]:
    """The default graph with stand-in jobs that end when the test lets the oldest one go;
    returns the most jobs running at once, the order they started, and the records."""

    async def drive() -> tuple[int, list[str], dict[str, JobRecord]]:
        loop = asyncio.get_running_loop()
        gates: dict[str, asyncio.Future[None]] = {}
        running: set[str] = set()
        peak = 0

        async def submit(job: str, _context: object) -> JobRecord:
            nonlocal peak
            running.add(job)
            peak = max(peak, len(running))
            gates[job] = loop.create_future()
            await gates[job]
            running.discard(job)
            return JobRecord(job, COMPLETED, started_at=time.time(), metrics={"job": job})

        async def settle() -> None:
            for _ in range(50):  # let the runner start all it may (yields, no time passes)
                await asyncio.sleep(0)

        graph = build_graph(DEFAULT_JOBS, {}, owner="store capped")
        runner = asyncio.ensure_future(
            _run_graph(graph, lambda upstream: None, max_jobs=max_jobs, submit=submit)
        )
        await settle()
        while not runner.done():
            oldest = next(job for job in gates if job in running)
            gates[oldest].set_result(None)
            await settle()
        return peak, list(gates), await runner

    return asyncio.run(drive())


def test_a_store_capped_at_two_jobs_never_runs_three() -> None:
    peak, started, records = _run_jobs(max_jobs=2)
    assert peak == 2
    assert {r.status for r in records.values()} == {COMPLETED}
    assert set(started) == set(DEFAULT_JOBS)
    # Uncapped, the same graph runs three at once (DNC beside Dealer.com and the pages).
    assert _run_jobs(max_jobs=None)[0] == 3
    # Capped at one, the jobs run one by one in the graph's order.
    peak, started, _ = _run_jobs(max_jobs=1)
    assert peak == 1 and started == list(DEFAULT_JOBS)


def test_a_jobs_clients_hold_prefects_pools_within_the_stores_caps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from flows.jobs import JobContext
    from multistore.calls import StorePools
    from multistore.models import Store
    from tasks.pools import PREFECT_POOLS

    capped = JobContext(
        store=Store(id="capped", name="capped", pool_caps={BROWSER: 1}),
        run_date=date(2026, 1, 5),
        data_dir=tmp_path,
    )
    pools = capped.clients.pools
    assert isinstance(pools, StorePools)
    assert (pools.pools, pools.store, pools.caps) == (PREFECT_POOLS, "capped", {BROWSER: 1})
    free = JobContext(
        store=Store(id="free", name="free"), run_date=date(2026, 1, 5), data_dir=tmp_path
    )
    assert free.clients.pools is PREFECT_POOLS
