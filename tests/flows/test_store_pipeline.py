"""The store pipeline's done-when scenarios: a real Prefect server, the sandbox, real Chromium.

(The runner's rules with stand-in jobs, and the cyclic configuration refused before any task
run, are in test_store_pipeline_runner.py.)
"""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from flows.setup import setup
from flows.store_pipeline import main, store_pipeline
from multistore.breaker import breaker
from multistore.registry import Registry

pytestmark = [pytest.mark.prefect, pytest.mark.browser]

INVENTORY = ["homenet_feed", "dealercom_feed", "vdp_scrape", "url_shorten"]
# Ten vehicles a dealer, not fifty: the first ten rows already hold one of each defect the jobs
# must find (a HomeNet reject at row 3, a vehicle missing from Dealer.com at 5, a price mismatch
# at 8, one Dealer.com extra), and each good vehicle is a page in Chromium. The full-size
# numbers, vehicle by vehicle, are checked in process (test_store_logic.py).
VEHICLES = 10
# DNC compliance runs only as the job a HomeNet outage must not block: ten contacts are plenty.
CONTACTS = 10


def _small(sandbox) -> None:
    sandbox.admin.configure(vehicles_per_store=VEHICLES, contacts_per_store=CONTACTS)


async def _run(store_id: str) -> tuple[bool, dict]:
    """Run one store; its statistics as the registry recorded them (also when it failed)."""
    state = await store_pipeline(store_id, return_state=True)
    [run] = [
        r
        for r in Registry().history(store_id)
        if r.flow_run_id == str(state.state_details.flow_run_id)
    ]
    return state.is_completed(), run.metrics | {"error": run.error}


def _statuses(stats: dict) -> dict[str, str]:
    return {name: job["status"] for name, job in stats["jobs"].items()}


async def test_three_dealers_at_once_and_a_homenet_outage_blocks_only_its_dealers_dependents(
    prefect_server, sandbox
):
    """Two dealers run the whole inventory graph while a third, at the same time, has HomeNet
    down: its dependents are blocked, its DNC compliance runs, its neighbours complete. (That a
    second run reuses every short link is proved in process, tests/flows/test_store_logic.py,
    and that no link left to make sends no request, in tests/clients/test_inventory.py.)"""
    dealers = ["north-ford", "south-kia"]
    registry = Registry()
    for dealer in dealers:
        registry.add(dealer, jobs=INVENTORY)
    registry.add("broken-jeep")  # every job, DNC compliance too
    _small(sandbox)
    await setup(seed_sandbox=True)
    sandbox.admin.set_faults({"vendor": "homenet", "store": "broken-jeep", "outage": True})

    *results, (ok_b, broken) = await asyncio.gather(
        *(_run(d) for d in dealers), _run("broken-jeep")
    )
    for dealer, (ok, stats) in zip(dealers, results, strict=True):
        assert ok, stats["error"]
        assert _statuses(stats) == dict.fromkeys(INVENTORY, "completed")
        assert (stats["successful_jobs"], stats["dependency_violations"]) == (4, 0)
        truth = sandbox.admin.inventory_truth(dealer)
        jobs = {name: job["metrics"] for name, job in stats["jobs"].items()}

        good = len(truth["homenet"]["good_vins"])
        assert good and truth["homenet"]["rejects"]
        assert jobs["homenet_feed"]["vehicles"] == good
        assert jobs["homenet_feed"]["rejects"] == len(truth["homenet"]["rejects"])
        rejects = pd.read_parquet(jobs["homenet_feed"]["rejects_path"])
        assert rejects["reason"].str.len().min() > 0

        for issue in ("missing", "extra", "price_mismatch"):
            assert truth["dealercom"][issue]  # the small size still has one of each
            assert jobs["dealercom_feed"][issue] == len(truth["dealercom"][issue])

        assert jobs["vdp_scrape"]["rendered"] == good
        pages = pd.read_parquet(jobs["vdp_scrape"]["vdp_path"])
        assert pages["price"].str.startswith("$").all()
        assert pages["features"].map(len).min() > 0

        assert jobs["url_shorten"]["shortened"] == good
        links = pd.read_parquet(jobs["url_shorten"]["short_links_path"])
        assert links["short_url"].notna().all() and len(links) == good

    assert not ok_b
    assert _statuses(broken) == {
        "homenet_feed": "failed",
        "dealercom_feed": "blocked",
        "vdp_scrape": "blocked",
        "url_shorten": "blocked",
        "dnc_compliance": "completed",
    }
    assert "HTTP 503" in broken["jobs"]["homenet_feed"]["error"]
    assert broken["compliance"]["contacts"] > 0
    assert broken["error"].startswith("store broken-jeep: failed: homenet_feed")
    assert broken["error"].endswith("blocked: dealercom_feed, vdp_scrape, url_shorten")
    counts = sandbox.admin.counters()["stores"]["broken-jeep"]
    assert "dealercom" not in counts and "vdp" not in counts  # blocked jobs never ran
    assert breaker("homenet").status().state == "closed"  # one dealer is not an outage

    # Browser pages open at once never exceeded the pool (4), across the three dealers.
    assert sandbox.admin.counters()["sessions"]["peak"] <= 4


async def test_an_open_breaker_fails_the_next_store_fast_and_blocks_its_dependents(
    prefect_server, sandbox, isolated_settings
):
    """Across store runs, the breaker opens and the next store's job fails without a request.
    (The cool-down and recovery run on a moved clock in tests/clients/test_inventory.py: a
    cool-down on the wall clock here would lapse on a loaded machine.)"""
    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "breakers.yaml").write_text(
        "breakers:\n  homenet: {threshold: 2, cooldown_seconds: 3600}\n"
    )
    stores = ["store-a", "store-b", "store-c"]
    registry = Registry()
    for store in stores:
        registry.add(store, jobs=["homenet_feed", "dealercom_feed"])
    await setup(seed_sandbox=True)
    sandbox.admin.set_faults({"vendor": "homenet", "outage": True})

    for store in stores[:2]:
        ok, stats = await _run(store)
        assert not ok and "HTTP 503" in stats["jobs"]["homenet_feed"]["error"]
    assert breaker("homenet").status().state == "open"
    requests = sandbox.admin.vendor_counts("homenet")["requests"]

    ok, stats = await _run("store-c")
    assert not ok
    error = stats["jobs"]["homenet_feed"]["error"]
    assert error.startswith(
        "CircuitOpenError: homenet for store store-c: circuit open for homenet until"
    ), error
    assert "; last error: ServiceError: homenet for store store-b: HTTP 503" in error
    assert stats["jobs"]["dealercom_feed"]["status"] == "blocked"
    assert sandbox.admin.vendor_counts("homenet")["requests"] == requests  # nothing was asked


def test_one_store_runs_by_hand(prefect_server, sandbox, capsys):
    """`main`, what `python -m flows.store_pipeline STORE` runs, in this process: the module's
    entry point as a process of its own (exit 0, the same line) is proved by
    tests/test_server_outage.py, which runs it so; another here would cost seconds of imports."""
    Registry().add("hand-run", jobs=["homenet_feed"])
    asyncio.run(setup(seed_sandbox=True))
    capsys.readouterr()
    assert main(["hand-run"]) == 0
    assert "store hand-run: 1/1 jobs completed" in capsys.readouterr().out
    [run] = Registry().history("hand-run")
    assert run.status == "completed" and run.metrics["jobs"]["homenet_feed"]["metrics"]["vehicles"]

    # An unknown store goes through the same `main`.
    assert main(["no-such-store"]) == 1
    assert "unknown store 'no-such-store'" in capsys.readouterr().err
