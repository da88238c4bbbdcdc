"""Measured, not assumed: after a real store run against a faulty sandbox, the per-store API
counters of /metrics (and the run's report entry) equal what the sandbox itself counted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from flows.setup import setup
from flows.store_pipeline import store_pipeline
from multistore.prefect_api import PrefectAPI
from multistore.registry import Registry
from multistore.service import create_app

pytestmark = pytest.mark.prefect

# A store whose first HomeNet request meets a 5xx and whose first Dealer.com one a 429 under
# these faults and the default seed (the dice are fixed: same requests, same faults).
STORE = "counted-8"
VENDORS = ("homenet", "dealercom")


async def test_metrics_per_vendor_and_store_match_the_sandbox(prefect_server, sandbox) -> None:
    Registry().add(STORE, jobs=["homenet_feed", "dealercom_feed"])
    await setup(seed_sandbox=True)
    fault = {"store": STORE, "error_rate": 0.5, "rate_limit_storm": 0.3, "retry_after": 0}
    sandbox.admin.set_faults([{"vendor": vendor, **fault} for vendor in VENDORS])
    state = await store_pipeline(STORE, return_state=True)
    assert state.is_completed(), state.message

    seen = sandbox.admin.counters()["stores"][STORE]
    (run,) = Registry().history(STORE)
    metrics = TestClient(create_app(prefect=PrefectAPI(""))).get("/metrics").text
    got = {
        (s.name, s.labels.get("vendor")): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.labels.get("store") == STORE and "vendor" in s.labels
    }
    # The faults were met (the dice are fixed by the seed, the store and the request number).
    assert sum(seen[v]["server_errors"] for v in VENDORS) > 0, seen
    assert sum(seen[v]["rate_limited"] for v in VENDORS) > 0, seen
    for vendor in VENDORS:
        truth = seen[vendor]
        assert got["multistore_api_calls_total", vendor] == truth["requests"]
        assert got["multistore_api_rate_limited_total", vendor] == truth["rate_limited"]
        assert got["multistore_api_server_errors_total", vendor] == truth["server_errors"]
        # Every refused call was tried again (the run completed).
        retries = truth["rate_limited"] + truth["server_errors"]
        assert got["multistore_api_retries_total", vendor] == retries
        assert run.metrics["api"][vendor]["calls"] == truth["requests"]
