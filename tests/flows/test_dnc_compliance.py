"""DNC compliance end to end: a real Prefect server, the sandbox, real Chromium.

The expected flags come from tests/fixtures/dnc_oracle.py, independently of multistore's code:
the sandbox's ground truth (its contacts and its scrub function) and the rules written plainly.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from blocks.crm import CRMCredentials
from blocks.sandbox import shared_block
from cli.app import app as command
from flows.dnc_compliance import dnc_compliance
from flows.setup import setup
from multistore.compliance import ComplianceRules
from multistore.pools import load_pools
from multistore.registry import Registry
from multistore.retry import ServiceError
from tasks.pools import ensure_pools
from tests.fixtures.dnc_oracle import expected_flags_of

pytestmark = [pytest.mark.prefect, pytest.mark.browser]

# Twenty contacts: enough requests (small pages and batches) for the storm's faults to meet, and
# enough flags to change for lost saves to leave some, not all, wrong (the faults are dice fixed by
# the seed: the same requests meet them every run). Every flag changed is a page in Chromium.
CONTACTS = 20
# Where the faults need no volume (a whole run, the pool's bound): ten contacts still leave each
# dealer 2-4 flags to change in the web UI, so each one opens a browser session.
FEW = 10


@pytest.fixture
def stores(prefect_server, sandbox, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Three dealers in the registry, their blocks and the pools saved on the Prefect server."""
    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", CONTACTS)
    ids = ["dnc-north", "dnc-south", "dnc-east"]
    registry = Registry()
    for store_id in ids:
        registry.add(store_id, jobs=["dnc_compliance"])
    asyncio.run(setup(seed_sandbox=True))
    return ids


def expected_flags(sandbox, store_id: str, rules: ComplianceRules | None = None) -> dict[str, bool]:
    seed = sandbox.state.config.seed
    today = datetime.now(UTC).date()
    return expected_flags_of(sandbox.admin.crm_contacts(store_id), seed, today, rules)


# --- the tests ------------------------------------------------------------------------------


def test_5xx_and_a_429_storm_end_in_the_same_crm_state(stores: list[str], sandbox) -> None:
    store = stores[1]
    expected = expected_flags(sandbox, store)
    # Small pages and batches: enough requests for the faults to meet.
    crm = CRMCredentials.load(f"crm-{store}")
    crm.page_size = 8
    crm.save(f"crm-{store}", overwrite=True)
    shared_block("dnc", sandbox.url, batch_size=10).save("dnc-default", overwrite=True)
    sandbox.admin.set_faults(
        [
            {"vendor": "crm", "store": store, "error_rate": 0.3},
            {"vendor": "dnc", "error_rate": 0.3},
            # A storm by request number, not by time: the same requests meet it every run.
            # Retry-After 0: each 429 is still met and tried again, without a second's wait
            # (that a Retry-After is waited out is proved in tests/multistore/test_retry.py).
            {"vendor": "dnc", "rate_limit_storm": 0.4, "retry_after": 0},
        ]
    )
    try:
        stats = dnc_compliance(store)
    finally:  # setup never overwrites a document: put the shared one back for the other tests
        shared_block("dnc", sandbox.url).save("dnc-default", overwrite=True)

    counts = sandbox.admin.counters()["vendors"]
    assert counts["dnc"]["rate_limited"] > 0, counts
    assert counts["dnc"]["server_errors"] + counts["crm"]["server_errors"] > 0, counts
    assert sandbox.admin.crm_flags(store) == expected
    assert stats["compliance_rate"] == 1.0


def test_lost_saves_lower_the_compliance_rate_by_exactly_the_contacts_left_wrong(
    stores: list[str], sandbox
) -> None:
    store = stores[0]
    before = sandbox.admin.crm_flags(store)
    expected = expected_flags(sandbox, store)
    differing = sum(before[cid] != flag for cid, flag in expected.items())
    # Half the web UI's saves answer "Saved" and are never kept.
    sandbox.admin.set_faults([{"vendor": "crm_ui", "store": store, "drop_save_rate": 0.5}])

    stats = dnc_compliance(store)

    dropped = sandbox.admin.counters()["stores"][store]["crm_ui"]["saves_dropped"]
    assert 0 < dropped < differing
    held = sandbox.admin.crm_flags(store)
    wrong = sum(held[cid] != flag for cid, flag in expected.items())
    assert wrong == dropped  # each lost save left exactly its contact wrong
    assert stats["compliance_rate"] == (CONTACTS - dropped) / CONTACTS
    assert stats["flags_intended"] == differing == stats["browser"]["flags_updated"]
    assert stats["flags_changed"] == differing - dropped  # confirmed by the read-back
    assert stats["flags_unconfirmed"] == dropped


def test_scrub_service_down_fails_in_one_line_and_writes_nothing(
    stores: list[str], sandbox, isolated_settings: Path
) -> None:
    store = stores[2]
    before = sandbox.admin.crm_flags(store)
    sandbox.admin.set_faults([{"vendor": "dnc", "outage": True}])

    with pytest.raises(ServiceError) as info:
        dnc_compliance(store)

    message = str(info.value)
    assert "\n" not in message and message.startswith(f"dnc for store {store}:"), message
    assert sandbox.admin.crm_flags(store) == before
    written = (
        [p for p in isolated_settings.rglob("*") if p.is_file()]
        if isolated_settings.exists()
        else []
    )
    assert not [p for p in written if "compliance" in p.parts], written


def test_a_browser_pool_of_one_bounds_two_stores_at_once(stores: list[str], sandbox) -> None:
    """Two stores want a browser page at once and the pool has one slot: never two pages open.
    (One slot below the demand proves the bound as two below three did, with one Chromium less.)"""
    sandbox.admin.configure(contacts_per_store=FEW)
    two = stores[:2]
    specs = [s.model_copy(update={"limit": 1}) if s.name == "browser" else s for s in load_pools()]
    asyncio.run(ensure_pools(specs))
    try:
        # Each thread runs in a copy of this context: Prefect's settings (the API URL of the
        # test server) live in a context variable that plain threads would not inherit.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(contextvars.copy_context().run, dnc_compliance, s) for s in two]
            results = [f.result() for f in futures]
    finally:
        asyncio.run(ensure_pools(load_pools()))

    sessions = sandbox.admin.counters()["sessions"]
    assert sessions["peak"] == 1, sessions
    for store, stats in zip(two, results, strict=True):
        assert stats["compliance_rate"] == 1.0
        assert sandbox.admin.crm_flags(store) == expected_flags(sandbox, store)


def test_run_store_runs_the_job_in_the_pipeline_and_the_flags_match(
    stores: list[str], sandbox, isolated_settings: Path
) -> None:
    """`multistore run-store` (in this process: the installed script's own entry is proved by
    tests/flows/test_setup.py, `python -m flows.store_pipeline` by tests/test_server_outage.py)
    runs the job inside the store pipeline; its flags are the rules'. The stats and the results
    file are checked at full size, contact by contact, in process (tests/flows/test_store_logic.py);
    here they come from real Chromium and HTTP. That a second run changes nothing (no browser,
    the same rows, the CRM's flags kept) is a matter of the job's logic, not of the real parts:
    test_store_logic.py proves it."""
    sandbox.admin.configure(contacts_per_store=FEW)
    store = stores[0]
    before = sandbox.admin.crm_flags(store)
    expected = expected_flags(sandbox, store)
    assert len(expected) == FEW
    differing = sum(before[cid] != flag for cid, flag in expected.items())
    assert differing > 0, "the sandbox's flags should give the pipeline work"

    result = CliRunner().invoke(command, ["run-store", store, "--json"])
    assert result.exit_code == 0, result.stderr[-2000:]
    job = json.loads(result.stdout)["jobs"]["dnc_compliance"]
    assert job["status"] == "completed"
    stats = job["metrics"]

    assert sandbox.admin.crm_flags(store) == expected
    assert stats["contacts"] == FEW
    assert stats["flags_changed"] == differing == stats["browser"]["flags_updated"]
    assert stats["flags_set"] + stats["flags_cleared"] == differing
    blocked = sum(stats["blocked_by_reason"].values())
    assert stats["callable"] + blocked + stats["invalid"] == FEW
    assert stats["callable"] == sum(not flag for flag in expected.values())
    assert stats["compliance_rate"] == 1.0
    assert stats["unique_numbers"] <= stats["phones"] - stats["invalid_phones"]
    assert stats["browser"]["sign_ins"] == 1 and stats["browser"]["browser_launches"] == 1

    output = Path(stats["output"])
    assert output == (
        isolated_settings
        / "compliance"
        / f"store_id={store}"
        / f"date={datetime.now(UTC).date()}"
        / "results.parquet"
    )
    results = pd.read_parquet(output)
    assert len(results) >= stats["phones"]
    by_contact = results.groupby("contact_id")["flag_after"].first().to_dict()
    assert by_contact == expected

    assert [p.name for p in output.parent.iterdir()] == ["results.parquet"]
