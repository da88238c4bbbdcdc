"""Two ticks at the same moment, on real Prefect: PostgreSQL server and registry, two workers.

Both ticks see the same due stores; the claims let each occurrence be won by one of them, so each
store gets exactly one run of `store-pipeline/default`, whichever worker runs it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from devtools.local import prefect_env, stop_all
from multistore.claims import COMPLETED, Claims
from multistore.registry import Registry
from tests.fixtures.prefect_server import start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.prefect]

# Two stores (one high, one low priority): each occurrence is claimed by exactly one of the two
# ticks whatever their order; more stores would only start more store-run processes.
STORES = [f"tick-{n}" for n in range(2)]


async def test_two_ticks_at_once_start_exactly_one_store_run_per_occurrence(
    pg_prefect,
    tmp_path: Path,
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.tick import tick_flow
    from flows.work_pools import ensure_process_pool

    registry = Registry()
    for n, store_id in enumerate(STORES):
        registry.add(store_id, jobs=[], priority=["high", "low"][n % 2])
    env = prefect_env(tmp_path / "home", pg_prefect.url)
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    workers = []
    with temporary_settings(updates={PREFECT_API_URL: pg_prefect.url}):
        await ensure_process_pool()
        pg_prefect.deploy(env, "store-pipeline/default")
        try:
            for name in ("tick-worker-a", "tick-worker-b"):
                workers.append(start_worker(name, env, tmp_path / f"{name}.log"))
            first, second = await asyncio.gather(
                tick_flow(return_state=True), tick_flow(return_state=True)
            )
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                claims = Claims().history()
                if len(claims) == len(STORES) and all(c.status == COMPLETED for c in claims):
                    break
                await asyncio.sleep(1)
        finally:
            stop_all(workers)
        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["default"]))
            )
    started = (await first.aresult())["started"] + (await second.aresult())["started"]
    logs = "".join((tmp_path / f"{w.name}.log").read_text()[-1500:] for w in workers)
    assert sorted(s["store_id"] for s in started) == STORES, logs
    # The server is shared with other worker tests: count the runs of this test's own stores.
    ours = [run.parameters.get("store_id") for run in runs]
    assert Counter(s for s in ours if s in STORES) == Counter(STORES)
    claims = {c.store_id: c for c in Claims().history()}
    assert {c.status for c in claims.values()} == {COMPLETED}, logs
    for store_id in STORES:
        (run,) = registry.history(store_id)
        assert run.status == "completed"
        assert run.flow_run_id == claims[store_id].flow_run_id
