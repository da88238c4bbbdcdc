"""A worker killed with -9 mid-store, on real parts: Prefect server and registry on PostgreSQL,
process workers, the sandbox over HTTP.

The tick starts two stores on one worker. While both are changing CRM flags through the browser,
the worker and the victim's own run are killed with -9 (as a lost machine would: nothing cleans
up). Then:

- the victim's store lease lapses (the workers' lease is 6 s here, so it lapses in seconds), the
  next tick closes its row as crashed, marks its flow run Crashed and retries its occurrence,
  which a second worker completes; the CRM ends as a clean run leaves it (the sandbox's ground
  truth through the test's own oracle);
- the sibling, which the dead worker had started in a process of its own, is not taken with it:
  it completes and writes its results;
- the live runs give their pool slots back; the dead run's comes back when its slot lease lapses
  on the server (60 s, the server's minimum), which bench/soak.py's smoke run (tests/bench/
  test_soak.py) waits for after the same kill ("slots held after: 0"): waiting here too would
  add up to a minute of nothing to this test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from devtools.local import kill_flow_run, prefect_env, stop_all
from multistore.claims import COMPLETED, Claims
from multistore.datafiles import DEFAULTS
from multistore.leases import Leases
from multistore.pools import BROWSER
from multistore.registry import Registry
from tests.fixtures.dnc_oracle import expected_flags_of
from tests.fixtures.prefect_server import start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.browser]

VICTIM, SIBLING = "kill-victim", "kill-sibling"
CONTACTS = 40
LEASE_SECONDS = 6  # the workers' store lease: a killed run is known dead in seconds


async def _until(what: str, check: Callable[[], object], timeout: float) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (found := await asyncio.to_thread(check)):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return found


def _pools_file(tmp_path: Path) -> Path:
    pools = yaml.safe_load((DEFAULTS / "pools.yaml").read_text())
    pools["pools"][BROWSER]["limit"] = 2
    path = tmp_path / "pools.yaml"
    path.write_text(yaml.safe_dump(pools))
    return path


async def test_a_worker_killed_mid_store_takes_only_its_run_which_a_later_tick_retries(
    pg_prefect,
    sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.setup import setup
    from flows.tick import tick_flow

    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", CONTACTS)
    registry = Registry()
    for store_id in (VICTIM, SIBLING):
        registry.add(store_id, jobs=["dnc_compliance"])
    seed, today = sandbox.state.config.seed, datetime.now(UTC).date()
    expected = {
        s: expected_flags_of(sandbox.admin.crm_contacts(s), seed, today) for s in (VICTIM, SIBLING)
    }
    to_change = {
        s: sum(sandbox.admin.crm_flags(s)[c] != flag for c, flag in expected[s].items())
        for s in (VICTIM, SIBLING)
    }
    assert min(to_change.values()) >= 4, to_change  # enough saves to kill in the middle of

    def saved(store_id: str) -> int:
        return sum(dealer == store_id for dealer, _ in list(sandbox.state.crm_flags))

    # Slow browser saves, the sibling's slower still: both are mid-way when the worker dies.
    sandbox.admin.set_faults(
        [
            {"vendor": "crm_ui", "store": VICTIM, "latency_ms": 300},
            {"vendor": "crm_ui", "store": SIBLING, "latency_ms": 900},
        ]
    )
    env = prefect_env(tmp_path / "home", pg_prefect.url)
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    env["MULTISTORE_STORE_LEASE_SECONDS"] = str(LEASE_SECONDS)
    workers = []
    with temporary_settings(updates={PREFECT_API_URL: pg_prefect.url}):
        await setup(sandbox_url=sandbox.url, pools_file=_pools_file(tmp_path), seed_sandbox=True)
        pg_prefect.deploy(env, "store-pipeline/default")
        try:
            doomed = start_worker("kill-worker-a", env, tmp_path / "kill-worker-a.log")
            workers.append(doomed)
            first_tick = await (await tick_flow(backoff_seconds=0, return_state=True)).aresult()
            assert sorted(s["store_id"] for s in first_tick["started"]) == [SIBLING, VICTIM]
            leases = Leases()
            await _until(
                "both stores mid-way through their CRM saves",
                lambda: (
                    leases.held(VICTIM)
                    and leases.held(SIBLING)
                    and 2 <= saved(VICTIM) < to_change[VICTIM]
                    and saved(SIBLING) < to_change[SIBLING]
                ),
                timeout=300,
            )
            dead_run = leases.held(VICTIM).holder
            doomed.kill()
            assert kill_flow_run(dead_run), "the victim's run was not running on this machine"
            killed_at = saved(VICTIM)
            sandbox.admin.clear_faults()
            workers.append(start_worker("kill-worker-b", env, tmp_path / "kill-worker-b.log"))

            await _until("the dead run's lease to lapse", lambda: not leases.held(VICTIM), 120)
            retry_tick = await (await tick_flow(backoff_seconds=0, return_state=True)).aresult()
            assert [c["flow_run_id"] for c in retry_tick["crashed"]] == [dead_run]
            assert [s["store_id"] for s in retry_tick["started"]] == [VICTIM]
            await _until(
                "both occurrences completed",
                lambda: {c.status for c in Claims().history()} == {COMPLETED},
                timeout=420,
            )
            async with get_client() as client:
                limit = await client.read_global_concurrency_limit_by_name(BROWSER)
                dead = await client.read_flow_run(dead_run)
        finally:
            stop_all(workers)
    logs = "".join((tmp_path / f"{w.name}.log").read_text()[-2000:] for w in workers)

    assert killed_at < to_change[VICTIM]  # the kill really was mid-store
    victim_runs = registry.history(VICTIM)
    assert [r.status for r in victim_runs] == ["completed", "crashed"], logs
    assert "lease expired" in victim_runs[1].error
    assert dead.state.type.value == "CRASHED"
    claims = {c.store_id: c for c in Claims().history()}
    assert claims[VICTIM].attempts == 2 and claims[VICTIM].flow_run_id == victim_runs[0].flow_run_id

    (sibling_run,) = registry.history(SIBLING)
    assert sibling_run.status == "completed", f"{sibling_run.error}\n{logs}"
    assert Path(sibling_run.metrics["jobs"]["dnc_compliance"]["metrics"]["output"]).exists()

    for store_id in (VICTIM, SIBLING):
        assert sandbox.admin.crm_flags(store_id) == expected[store_id], store_id
    # At most the dead run's page, whose lease has yet to lapse: every live run gave its back.
    assert limit.active_slots <= 1, f"{limit.active_slots} browser slots still held"
