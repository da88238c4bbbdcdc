"""A Prefect server that answers 503 "database is locked" while a store takes a pool slot: the
slot is tried again with backoff and the store completes; should the server fail through every
try, the store fails naming the orchestrator, and that failure never counts toward quarantine.

The store runs in a process of its own, talking to the real server through a loopback proxy that
refuses slot acquisitions, with Prefect's own client retries off (so our retry is what absorbs
them; a fresh process also holds no slot service bound to the server directly).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from flows.setup import setup
from multistore.claims import Claims
from multistore.registry import Registry
from tasks.pools import ACQUIRE_DELAYS
from tests.fixtures.prefect_proxy import FlakyProxy

pytestmark = pytest.mark.prefect

ACQUIRE = "/concurrency_limits/increment-with-lease"
POOL = "api:homenet"
RUN = """
import asyncio, json, sys
from flows.store_pipeline import store_pipeline
state = asyncio.run(store_pipeline(
    sys.argv[1], ["homenet_feed"], occurrences=sys.argv[2:] or None, quarantine_threshold=1,
    return_state=True,
))
print(json.dumps({"completed": state.is_completed(), "message": state.message}))
"""


def _pool_slot(method: str, path: str, body: bytes) -> bool:
    """A slot of the HomeNet pool (not the task engine's own tag-limit check, which Prefect's
    client retries cover)."""
    return method == "POST" and path.endswith(ACQUIRE) and POOL in json.loads(body)["names"]


def _first(n: int):
    def refuse(method: str, path: str, body: bytes) -> bool:
        nonlocal n
        if _pool_slot(method, path, body) and n > 0:
            n -= 1
            return True
        return False

    return refuse


def _run_store(proxy: FlakyProxy, store_id: str, *occurrences: str) -> dict:
    env = {**os.environ, "PREFECT_API_URL": proxy.api_url, "PREFECT_CLIENT_MAX_RETRIES": "0"}
    done = subprocess.run(
        [sys.executable, "-c", RUN, store_id, *occurrences],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


async def test_slots_refused_by_a_busy_server_are_retried_and_the_store_completes(
    prefect_server, sandbox
) -> None:
    Registry().add("slot-busy", jobs=["homenet_feed"])
    await setup(seed_sandbox=True)
    proxy = FlakyProxy(prefect_server.url, _first(2))
    try:
        outcome = _run_store(proxy, "slot-busy")
    finally:
        proxy.close()
    assert outcome["completed"], outcome["message"]
    assert proxy.refused == 2  # both absorbed by the store's own retry of the slot
    (run,) = Registry().history("slot-busy")
    assert run.status == "completed"


async def test_a_server_failing_through_every_try_never_counts_toward_quarantine(
    prefect_server, sandbox
) -> None:
    registry = Registry()
    registry.add("slot-down", jobs=["homenet_feed"])
    await setup(seed_sandbox=True)
    now = datetime.now(UTC)
    key = f"test:{now:%Y%m%dT%H%M%S}"
    row = {"store_id": "slot-down", "occurrence_key": key, "kind": "window"}
    Claims().claim([{**row, "due_from": now, "due_until": now + timedelta(hours=1)}])
    proxy = FlakyProxy(prefect_server.url, _pool_slot)
    try:
        outcome = _run_store(proxy, "slot-down", key)
    finally:
        proxy.close()
    assert not outcome["completed"]
    assert proxy.refused == 1 + len(ACQUIRE_DELAYS)  # the first try and one after each wait
    (run,) = registry.history("slot-down")
    assert run.status == "failed"
    assert f"OrchestratorBusy: pool api:homenet: the Prefect server {proxy.api_url} did not " in (
        run.error
    )
    assert "did not grant a slot" in run.error
    assert run.metrics["orchestrator_failure"] is True
    # quarantine_threshold=1: one counted failure would have quarantined it.
    store = registry.get("slot-down")
    assert store.consecutive_failures == 0 and store.quarantined_at is None


def test_the_parent_does_not_count_a_failure_of_the_orchestrator() -> None:
    import logging

    from flows.run_stores import _record_outcome
    from multistore.report import FAILED, StoreEntry

    registry = Registry()
    store = registry.add("parent-counted", jobs=[])
    entry = StoreEntry(store.id, "MEDIUM", status=FAILED, error="OrchestratorBusy: pool x: …")
    entry.absorb_stats({"orchestrator_failure": True})
    logger = logging.getLogger("test")
    assert _record_outcome(registry, store, entry, 1, logger) == 0
    assert registry.get(store.id).quarantined_at is None
    entry.absorb_stats({"orchestrator_failure": False})  # a vendor's failure counts
    assert _record_outcome(registry, store, entry, 1, logger) == 1
    assert registry.get(store.id).quarantined_at is not None


def test_a_slot_refused_for_another_reason_is_not_retried() -> None:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    from tasks.pools import PrefectPools

    waits: list[float] = []
    pools = PrefectPools(sleep=waits.append)
    tries = []

    def missing_pool() -> None:
        tries.append(1)
        raise ConcurrencySlotAcquisitionError("Concurrency limits ['x'] must be created first")

    with pytest.raises(ConcurrencySlotAcquisitionError):
        pools._acquire("x", missing_pool)
    assert tries == [1] and waits == []


def test_a_tagged_task_refused_its_tag_slot_by_the_server_is_the_orchestrators_failure(
    monkeypatch,
) -> None:
    """Measured in the demo on SQLite: Prefect's own tag-limit check of a tagged task answered
    503 through its client's retries and failed a store's job. Not the vendor's failure."""
    import httpx
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    from flows import store_pipeline as pipeline

    request = httpx.Request("POST", "http://prefect/api/v2/concurrency_limits/increment-with-lease")
    locked = httpx.HTTPStatusError("503", request=request, response=httpx.Response(503))

    def refused(context):
        try:
            raise locked
        except httpx.HTTPStatusError as exc:
            raise ConcurrencySlotAcquisitionError("slots on ['tag:crm']: 503") from exc

    def missing(context):
        raise ConcurrencySlotAcquisitionError("Concurrency limits ['x'] must be created first")

    monkeypatch.setitem(pipeline.JOBS, "refused", refused)
    monkeypatch.setitem(pipeline.JOBS, "missing", missing)
    with pytest.raises(pipeline.JobFailed) as failed:
        pipeline.run_job.fn("refused", None)
    assert failed.value.orchestrator is True
    with pytest.raises(pipeline.JobFailed) as failed:
        pipeline.run_job.fn("missing", None)
    assert failed.value.orchestrator is False
