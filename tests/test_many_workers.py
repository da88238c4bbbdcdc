"""Many workers: Prefect's server and the registry on PostgreSQL, two process workers on one pool.

Four dealers run their DNC compliance pipeline as runs of `store-pipeline/default`. The runs land
on both workers, and the pools hold across the two processes because Prefect's server holds
them: the sandbox never sees more browser pages than the browser pool, nor more scrub calls in
any window than the `api:dnc` rate limit allows (its own limit is set a little looser, so any
excess would show as calls it accepted, and a 429 as a call it refused).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from devtools.local import not_online, prefect_env, stop_all
from flows.work_pools import PROCESS_POOL
from multistore.datafiles import DEFAULTS
from sandbox.counters import most_in_window
from tests.fixtures.prefect_server import start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.browser]

# Four stores: two per worker at --limit 2, all four at once (max_concurrent_stores=4), so the
# runs need both workers and the four ask for the two browser slots and the DNC rate together.
STORES = [f"dealer-{n:02d}" for n in range(4)]
BROWSER_LIMIT = 2
DNC_BURST, DNC_PER_MINUTE = 3, 60
CONTACTS = 30
DNC_BATCH = 10  # 3 or more scrub calls per dealer


def _pools_file(tmp_path: Path) -> Path:
    pools = yaml.safe_load((DEFAULTS / "pools.yaml").read_text())
    pools["pools"]["browser"]["limit"] = BROWSER_LIMIT
    pools["pools"]["api:dnc"].update(per_minute=DNC_PER_MINUTE, burst=DNC_BURST)
    path = tmp_path / "pools.yaml"
    path.write_text(yaml.safe_dump(pools))
    return path


async def test_two_workers_share_the_pools(pg_prefect, sandbox, tmp_path, monkeypatch) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks.sandbox import shared_block
    from flows.run_stores import run_stores
    from flows.setup import setup
    from multistore.registry import Registry

    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", CONTACTS)
    # The vendor's own limit, a little above the pool's: the pool is what keeps calls under it.
    sandbox.admin.set_limits(dnc={"per_minute": DNC_PER_MINUTE + 6, "burst": DNC_BURST + 1})
    registry = Registry()
    for n, store_id in enumerate(STORES):
        registry.add(store_id, jobs=["dnc_compliance"], priority=["high", "medium", "low"][n % 3])

    env = prefect_env(tmp_path / "home", pg_prefect.url)
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"  # pick runs up within a second, not ten
    workers = []
    since = datetime.now(UTC) - timedelta(seconds=5)
    with temporary_settings(updates={PREFECT_API_URL: pg_prefect.url}):
        await setup(sandbox_url=sandbox.url, pools_file=_pools_file(tmp_path), seed_sandbox=True)
        await shared_block("dnc", sandbox.url, batch_size=DNC_BATCH).asave(
            "dnc-default", overwrite=True
        )
        pg_prefect.deploy(env, "store-pipeline/default")
        try:
            for name in ("worker-a", "worker-b"):
                # --limit 2 each: four stores at once need both workers.
                workers.append(start_worker(name, env, tmp_path / f"{name}.log", "--limit", "2"))
            # Both polling before the runs exist: one worker cannot take all four on its own.
            if missing := await not_online(PROCESS_POOL, {w.name for w in workers}, timeout=120):
                logs = "".join(w.log.read_text()[-1500:] for w in workers)
                raise AssertionError(f"workers {sorted(missing)} not online\n{logs}")
            sandbox.admin.reset_counters()
            state = await asyncio.wait_for(
                run_stores(
                    store_deployment="store-pipeline/default",
                    max_concurrent_stores=4,
                    return_state=True,
                ),
                timeout=480,
            )
        finally:
            stop_all(workers)
            # The server is shared: later tests find the DNC block as setup seeds it.
            await shared_block("dnc", sandbox.url).asave("dnc-default", overwrite=True)
        report = await state.aresult(raise_on_failure=False)
        logs = "".join((tmp_path / f"{w.name}.log").read_text()[-1500:] for w in workers)
        assert state.is_completed(), f"{state.message}\n{logs}"
        assert [s["status"] for s in report["stores"]] == ["completed"] * len(STORES)
        assert all(s["compliance_rate"] == 1.0 for s in report["stores"])
        # The report's pool usage, sampled from the server during the run.
        assert report["pools"]["browser"]["limit"] == BROWSER_LIMIT
        assert report["pools"]["browser"]["peak_active"] <= BROWSER_LIMIT
        assert report["pools"]["rate:api:dnc"]["limit"] == DNC_BURST

        # Runs on both workers, from the workers' own events.
        run_ids = {rid for s in report["stores"] for rid in s["flow_run_ids"]}
        workers_of = await _workers_of(run_ids, since)
        assert set(workers_of) == run_ids, "every store run was submitted by a worker"
        assert set(workers_of.values()) == {"worker-a", "worker-b"}

    # Every run recorded in the shared registry.
    for store_id in STORES:
        (run,) = registry.history(store_id)
        assert run.status == "completed" and run.flow_run_id in run_ids

    # The pools held across the two workers.
    counters = sandbox.admin.counters(detail=True)
    assert 0 < counters["sessions"]["peak"] <= BROWSER_LIMIT, counters["sessions"]
    dnc = counters["vendors"]["dnc"]
    assert dnc["rate_limited"] == 0, dnc
    times = sorted(counters["accepted_times"]["dnc"])
    # At least one batch per 10 contacts (a contact may have several numbers).
    assert len(times) >= len(STORES) * (CONTACTS // DNC_BATCH), len(times)
    for width in (1, 5, 10, 30, 60):
        most = most_in_window(times, width)
        allowed = DNC_BURST + width * DNC_PER_MINUTE / 60
        assert most <= allowed, f"{most} scrub calls in {width} s, the limit allows {allowed}"


async def _workers_of(run_ids: set[str], since: datetime) -> dict[str, str]:
    """flow run id → the name of the worker that submitted it."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    found: dict[str, str] = {}
    async with get_client() as client:
        for _ in range(50):
            page = await client.read_events(
                EventFilter(
                    event=EventNameFilter(name=["prefect.worker.submitted-flow-run"]),
                    occurred=EventOccurredFilter(since=since),
                ),
                limit=50,  # the API's maximum; four store runs make four such events
            )
            for event in page.events:
                for related in event.related:
                    run_id = related.id.removeprefix("prefect.flow-run.")
                    if related.role == "flow-run" and run_id in run_ids:
                        found[run_id] = event.resource.name
            if set(found) == run_ids:
                break
            await asyncio.sleep(0.2)
    return found
