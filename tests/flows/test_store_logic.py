"""A whole store pipeline's logic (DNC compliance and the inventory graph) in one process.

The jobs and tasks are the real ones; the clients are in-process fakes answering from the
sandbox's generated data (sandbox/fakes.py) and each task runs as its plain function: no Prefect
server, no HTTP, no browser. What only the real parts can prove (pools across processes, retries
over HTTP, Chromium) stays in test_store_pipeline.py and test_dnc_compliance.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from flows.jobs import JOBS, JobContext, run_inline
from multistore.jobgraph import DEFAULT_JOBS, graph_for_store
from multistore.registry import Registry
from sandbox import inventory as sandbox_inventory
from sandbox.config import SandboxConfig
from sandbox.fakes import FakeWorld
from tests.fixtures.dnc_oracle import expected_flags_of

STORE = "logic-motors"
CONTACTS = 120


def _run_store(world: FakeWorld, data_dir: Path, today: date) -> dict[str, dict[str, Any]]:
    """Every job of the store's graph in graph order, each given its dependencies' metrics."""
    store = Registry().get(STORE)
    metrics: dict[str, dict[str, Any]] = {}
    graph = graph_for_store(store)
    for job in graph.jobs:
        ctx = JobContext(
            store=store,
            run_date=today,
            data_dir=data_dir,
            upstream={d: metrics[d] for d in graph.dependencies[job]},
            clients=world.clients(STORE),
            run=run_inline,
        )
        metrics[job] = JOBS[job](ctx)
    return metrics


def test_a_store_runs_every_job_in_process_and_a_second_run_changes_nothing(
    isolated_settings: Path,
) -> None:
    today = date.today()
    world = FakeWorld(SandboxConfig(contacts_per_store=CONTACTS, today=today))
    Registry().add(STORE)
    assert set(Registry().get(STORE).jobs) == set(DEFAULT_JOBS)
    contacts = world.clients(STORE).crm().contacts()
    expected = expected_flags_of(contacts, world.state.config.seed, today)
    differing = sum(
        c["ContactInformation"]["DoNotCall"] != expected[c["ContactId"]] for c in contacts
    )
    assert differing > 0, "the generated flags should give the pipeline work"

    jobs = _run_store(world, isolated_settings, today)

    # DNC compliance: the CRM's flags are the rules' flags, the results file says the same.
    dnc = jobs["dnc_compliance"]
    flags = {
        c["ContactId"]: c["ContactInformation"]["DoNotCall"]
        for c in world.clients(STORE).crm().contacts()
    }
    assert flags == expected
    assert dnc["contacts"] == CONTACTS and dnc["compliance_rate"] == 1.0
    assert dnc["flags_changed"] == differing == dnc["browser"]["flags_updated"]
    assert dnc["flags_set"] + dnc["flags_cleared"] == differing
    assert dnc["callable"] == sum(not flag for flag in expected.values())
    assert dnc["callable"] + sum(dnc["blocked_by_reason"].values()) + dnc["invalid"] == CONTACTS
    output = Path(dnc["output"])
    assert output == (
        isolated_settings / "compliance" / f"store_id={STORE}" / f"date={today}" / "results.parquet"
    )
    results = pd.read_parquet(output)
    assert results.groupby("contact_id")["flag_after"].first().to_dict() == expected

    # Inventory: the vendor's own truth, job by job.
    truth = world.state.config
    rows = truth.vehicles_per_store
    good = [
        sandbox_inventory.vehicle(truth.seed, STORE, i, today)["VIN"]
        for i in range(rows)
        if not sandbox_inventory.bad_kind(i)
    ]
    assert jobs["homenet_feed"]["vehicles"] == len(good)
    assert jobs["homenet_feed"]["rejects"] == rows - len(good)
    vehicles = pd.read_parquet(jobs["homenet_feed"]["vehicles_path"])
    assert sorted(vehicles["VIN"]) == sorted(good)
    rejects = pd.read_parquet(jobs["homenet_feed"]["rejects_path"])
    assert rejects["reason"].str.len().min() > 0

    listing = sandbox_inventory.dealercom_listing(truth.seed, STORE, rows, today)
    issues = pd.read_parquet(jobs["dealercom_feed"]["reconciliation_path"])
    by_issue = issues.groupby("issue")["vin"].apply(sorted).to_dict()
    for issue in ("missing", "extra", "price_mismatch"):
        assert jobs["dealercom_feed"][issue] == len(getattr(listing, issue))
        assert by_issue.get(issue, []) == sorted(getattr(listing, issue))

    assert jobs["vdp_scrape"]["rendered"] == len(good) and jobs["vdp_scrape"]["page_errors"] == 0
    pages = pd.read_parquet(jobs["vdp_scrape"]["vdp_path"])
    assert pages["price"].str.startswith("$").all()
    assert pages["features"].map(len).min() > 0
    assert pages["price_value"].notna().all()

    assert jobs["url_shorten"]["shortened"] == len(good)
    links = pd.read_parquet(jobs["url_shorten"]["short_links_path"])
    assert links["short_url"].notna().all() and len(links) == len(good)
    assert {world.state.short_links[code] for code in links["code"]} == set(pages["url"])

    # A second run: no flag to change (no browser at all), every short link reused.
    world.calls.clear()
    again = _run_store(world, isolated_settings, today)
    assert again["dnc_compliance"]["flags_changed"] == 0
    assert again["dnc_compliance"]["browser"]["flags_updated"] == 0
    assert again["dnc_compliance"]["browser"]["browser_launches"] == 0
    assert {
        c["ContactId"]: c["ContactInformation"]["DoNotCall"]
        for c in world.clients(STORE).crm().contacts()
    } == expected
    assert again["url_shorten"]["reused"] == len(good)
    assert again["url_shorten"]["shortened"] == 0
    second = pd.read_parquet(output)
    pd.testing.assert_frame_equal(
        second.drop(columns="flag_before"), results.drop(columns="flag_before")
    )
    assert (second["flag_before"] == second["flag_after"]).all()
    assert [p.name for p in output.parent.iterdir()] == ["results.parquet"]
