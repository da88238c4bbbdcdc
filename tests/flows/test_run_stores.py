"""The parent flow against a real Prefect server and the sandbox.

Healthy stores run an empty job list (the store pipeline then only records its run); the failing
ones run the HomeNet feed while the sandbox answers 503 for their feed alone.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from blocks.inventory import InventorySources
from devtools.local import prefect_env
from flows.run_stores import NOTHING_RAN_STATE, QUARANTINE_EVENT, run_stores
from multistore.pools import load_pools
from multistore.registry import Registry
from multistore.report import load_report
from tasks.pools import ensure_pools
from tests.fixtures.prefect_proxy import FlakyProxy, Refuse
from tests.fixtures.prefect_server import prefect_deploy, start_worker, stored_events

pytestmark = pytest.mark.prefect

# Two healthy stores beside the two failing ones: isolation needs a neighbour, not eight (each
# store is a subflow run on the server; the report's logic has its fast tests below).
HEALTHY = [f"ok-{n}" for n in range(2)]
FAILING = ["down-1", "down-2"]


@pytest.fixture
async def stores(prefect_server, sandbox) -> Registry:
    """Four stores: two healthy, two whose HomeNet feed is down."""
    await ensure_pools(load_pools())
    registry = Registry()
    priorities = ["HIGH", "MEDIUM", "LOW"]
    for n, store_id in enumerate(HEALTHY):
        registry.add(store_id, priority=priorities[n % 3], jobs=[], region="west")
    for store_id in FAILING:
        registry.add(store_id, priority="HIGH", jobs=["homenet_feed"], region="west")
        await InventorySources(
            base_url=sandbox.url, dealer_id=store_id, homenet_key="sandbox-homenet-key"
        ).save(f"inventory-{store_id}", overwrite=True)
    sandbox.admin.set_faults(
        [{"vendor": "homenet", "store": store_id, "outage": True} for store_id in FAILING]
    )
    return registry


async def _report(state) -> dict:
    return await state.aresult(raise_on_failure=False)


async def test_failures_are_isolated_retried_recorded_and_quarantined(stores: Registry) -> None:
    # One retry shows a failed store tried again with each attempt kept (a second retry was
    # two more store runs proving the same; the retry count itself: the plain-runner tests below).
    state = await run_stores(max_retries=1, quarantine_threshold=3, return_state=True)

    assert state.is_failed(), state.message
    assert "down-1" in state.message and "down-2" in state.message
    report = await _report(state)
    by_id = {s["store_id"]: s for s in report["stores"]}
    assert {i for i, s in by_id.items() if s["status"] == "completed"} == set(HEALTHY)
    for store_id in FAILING:
        failed = by_id[store_id]
        assert failed["status"] == "failed"
        assert failed["attempts"] == 2  # max_retries + 1
        assert len(failed["flow_run_ids"]) == 2
        assert failed["jobs_failed"] == 1
        assert "homenet_feed" in failed["error"]
        # Every attempt keeps its own error and run, named for the store and the attempt.
        assert [a["attempt"] for a in failed["attempt_log"]] == [1, 2]
        assert all("homenet_feed" in a["error"] for a in failed["attempt_log"])
        async with get_client() as client:
            names = [(await client.read_flow_run(i)).name for i in failed["flow_run_ids"]]
        assert names == [f"{store_id} attempt {n}" for n in (1, 2)]
        assert len(stores.history(store_id)) == 2
        assert stores.get(store_id).consecutive_failures == 1
    assert all(by_id[i]["attempts"] == 1 for i in HEALTHY)
    async with get_client() as client:
        parent = await client.read_flow_run(report["flow_run_id"])
    assert parent.name == "local: all due stores"
    assert report["totals"] == {
        "selected": 4,
        "completed": 2,
        "failed": 2,
        "not_started": 0,
        "running": 0,
        "queued": 0,
        "skipped": 0,
        "quarantined": 0,
    }
    # The same report on disk, and the artifacts on the flow run.
    assert load_report(stores_data_dir())["flow_run_id"] == report["flow_run_id"]
    async with get_client() as client:
        artifacts = await client.read_artifacts()
    keys = {a.key for a in artifacts if str(a.flow_run_id) == report["flow_run_id"]}
    assert {"store-run-report", "store-run-summary", "store-run-progress"} <= keys

    # Two more failing runs in a row: the third quarantines, once, with an event.
    since = datetime.now(UTC) - timedelta(seconds=5)
    await run_stores(stores=FAILING, max_retries=0, quarantine_threshold=3, return_state=True)
    third = await run_stores(
        stores=FAILING, max_retries=0, quarantine_threshold=3, return_state=True
    )
    report = await _report(third)
    assert all(s["quarantined"] for s in report["stores"])
    assert report["totals"]["quarantined"] == 2
    for store_id in FAILING:
        store = stores.get(store_id)
        assert store.quarantined_at is not None
        assert "homenet" in (store.quarantine_reason or "")
    events = await stored_events(name=QUARANTINE_EVENT, since=since, expected=2)
    assert sorted(e.resource.id for e in events) == [f"multistore.store.{s}" for s in FAILING]

    # Quarantined stores are skipped with the reason until released.
    fourth = await run_stores(stores=FAILING, return_state=True)
    assert fourth.name == NOTHING_RAN_STATE and fourth.is_cancelled()  # grey, not a success
    skipped = (await _report(fourth))["skipped"]
    assert [(s["store_id"], s["reason"]) for s in skipped] == [
        ("down-1", "quarantined"),
        ("down-2", "quarantined"),
    ]


def stores_data_dir() -> Path:
    from multistore.settings import get_settings

    return get_settings().data_dir


async def test_closed_window_skipped_and_start_order_follows_priority(
    prefect_server, sandbox
) -> None:
    registry = Registry()
    now = datetime.now(UTC)
    closed_start = (now + timedelta(hours=2)).strftime("%H:%M")
    closed_end = (now + timedelta(hours=3)).strftime("%H:%M")
    registry.add(
        "late", priority="HIGH", jobs=[], timezone="UTC", window=f"{closed_start}-{closed_end}"
    )
    for store_id, priority in [
        ("c-low", "LOW"),
        ("a-medium", "MEDIUM"),
        ("b-high", "HIGH"),
        ("d-medium", "MEDIUM"),
        ("e-high", "HIGH"),
    ]:
        registry.add(store_id, priority=priority, jobs=[])

    state = await run_stores(max_concurrent_stores=1, return_state=True)

    assert state.is_completed(), state.message
    report = await _report(state)
    assert [(s["store_id"], s["reason"]) for s in report["skipped"]] == [("late", "outside window")]
    assert report["skipped"][0]["next_open"].startswith(
        (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    started = sorted(report["stores"], key=lambda s: s["started_at"])
    assert [s["store_id"] for s in started] == ["b-high", "e-high", "a-medium", "d-medium", "c-low"]
    runs = sorted(
        (registry.history(s)[0] for s in ["b-high", "e-high", "a-medium", "d-medium", "c-low"]),
        key=lambda run: run.started_at,
    )
    assert [r.store_id for r in runs] == ["b-high", "e-high", "a-medium", "d-medium", "c-low"]


async def test_ignore_windows_runs_a_closed_store_ad_hoc(prefect_server) -> None:
    registry = Registry()
    now = datetime.now(UTC)
    closed = f"{(now + timedelta(hours=2)):%H:%M}-{(now + timedelta(hours=3)):%H:%M}"
    registry.add("closed-now", jobs=[], timezone="UTC", window=closed)
    registry.add("switched-off", jobs=[])
    registry.disable("switched-off")

    state = await run_stores(
        stores=["closed-now", "switched-off"], ignore_windows=True, return_state=True
    )

    assert state.is_completed(), state.message
    report = await _report(state)
    assert [(s["store_id"], s["status"]) for s in report["stores"]] == [("closed-now", "completed")]
    assert [(s["store_id"], s["reason"]) for s in report["skipped"]] == [
        ("switched-off", "disabled")
    ]
    assert len(registry.history("closed-now")) == 1


async def test_a_store_whose_outcome_cannot_be_recorded_does_not_sink_the_run(
    prefect_server, monkeypatch
) -> None:
    """The registry refuses one store's outcome: the others finish and the report is published."""
    from sqlalchemy.exc import OperationalError

    registry = Registry()
    for store_id in ("rec-1", "locked", "rec-2"):
        registry.add(store_id, jobs=[])
    record = Registry.record_outcome

    def record_or_lock(self, store_id, *args, **kwargs):
        if store_id == "locked":
            raise OperationalError("UPDATE store", {}, Exception("database is locked"))
        return record(self, store_id, *args, **kwargs)

    monkeypatch.setattr(Registry, "record_outcome", record_or_lock)

    state = await run_stores(stores=["rec-1", "locked", "rec-2"], return_state=True)

    assert state.is_completed(), state.message
    report = await _report(state)
    by_id = {s["store_id"]: s for s in report["stores"]}
    assert {i: s["status"] for i, s in by_id.items()} == {
        "rec-1": "completed",
        "locked": "completed",
        "rec-2": "completed",
    }
    assert "outcome not recorded" in by_id["locked"]["error"]
    assert "database is locked" in by_id["locked"]["error"]
    assert by_id["rec-1"]["error"] is None
    assert len(registry.history("rec-1")) == 1 and len(registry.history("rec-2")) == 1
    latest = load_report(stores_data_dir())
    assert latest is not None and latest["flow_run_id"] == report["flow_run_id"]
    current = load_report(stores_data_dir(), "current.json")
    assert current is not None and current["state"] != "running"


async def test_dry_run_starts_nothing(prefect_server) -> None:
    registry = Registry()
    for store_id in ("dry-1", "dry-2"):
        registry.add(store_id, jobs=[])
    before = await _store_runs_on_server()

    state = await run_stores(dry_run=True, return_state=True)

    assert state.is_completed()
    report = await _report(state)
    assert report["dry_run"] is True
    assert [s["store_id"] for s in report["stores"]] == ["dry-1", "dry-2"]
    assert all(s["attempts"] == 0 for s in report["stores"])
    assert await _store_runs_on_server() == before
    assert registry.history("dry-1") == [] and registry.history("dry-2") == []


async def _store_runs_on_server() -> int:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["store-pipeline"])), limit=200
        )
    return len(runs)


async def test_bad_parameters_are_refused_before_anything_runs(prefect_server) -> None:
    Registry().add("p-1", jobs=[])
    state = await run_stores(max_concurrent_stores=0, return_state=True)
    assert state.is_failed()
    assert "max_concurrent_stores must be at least 1, got 0" in state.message
    state = await run_stores(store_timeout_seconds=0, return_state=True)
    assert state.is_failed()
    assert "store_timeout_seconds must be more than 0, got 0" in state.message
    assert Registry().history("p-1") == []


async def test_unknown_store_is_one_line_naming_it(prefect_server) -> None:
    state = await run_stores(stores=["no-such-store"], return_state=True)
    assert state.is_failed()
    assert "unknown store 'no-such-store'" in state.message


@pytest.fixture(scope="module")
async def deployed(prefect_server, tmp_path_factory) -> None:
    """store-pipeline/default deployed once for this module's tests (`prefect deploy` costs
    seconds of CPU)."""
    from flows.work_pools import ensure_process_pool

    await ensure_process_pool()
    env = prefect_env(tmp_path_factory.mktemp("deploy-home"), prefect_server.url)
    prefect_deploy(env, "--name", "store-pipeline/default", timeout=120)


async def test_deployment_path_runs_each_store_on_a_worker(
    prefect_server, deployed, tmp_path
) -> None:
    """store_deployment: each store is a run of store-pipeline/default, picked up by a worker."""
    # This test's environment (its own data directory and registry), not the module's.
    env = prefect_env(Path(tmp_path) / "worker-home", prefect_server.url)
    registry = Registry()
    # Two stores, both at once: each is its own flow-run process on the worker, and each
    # creation meets its own 503 (a third would repeat both at ~3.5 s of CPU).
    for store_id in ("dep-1", "dep-2"):
        registry.add(store_id, jobs=[])
    worker = start_worker("run-stores-test-worker", env, tmp_path / "worker.log")
    proxy = FlakyProxy(prefect_server.url, _first_creation_of_each_run(), forward_refused=True)
    try:
        # The parent talks through the proxy with Prefect's own client retries off, so every
        # 503 reaches the parent's retry; the worker talks to the server directly.
        with temporary_settings(
            updates={PREFECT_API_URL: proxy.api_url, PREFECT_CLIENT_MAX_RETRIES: 0}
        ):
            state = await asyncio.wait_for(
                run_stores(
                    store_deployment="store-pipeline/default",
                    max_concurrent_stores=2,
                    return_state=True,
                ),
                timeout=240,
            )
    finally:
        worker.stop()
        proxy.close()
    report = await _report(state)
    assert state.is_completed(), json.dumps(report, indent=1)[:2000]
    assert [s["status"] for s in report["stores"]] == ["completed"] * 2
    assert proxy.refused == 2, "each store's run creation met one 503"
    async with get_client() as client:
        for entry in report["stores"]:
            (run_id,) = entry["flow_run_ids"]
            run = await client.read_flow_run(run_id)
            assert run.deployment_id is not None
            assert run.state.is_completed()
            assert registry.history(entry["store_id"])[0].flow_run_id == run_id
            # The 503 came after the server had created the run: the retry got the same one.
            named = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    name=FlowRunFilterName(any_=[f"{entry['store_id']} attempt 1"])
                )
            )
            assert [str(r.id) for r in named] == [run_id]


def _first_creation_of_each_run() -> Refuse:
    """Each deployment run's first creation: forwarded (the server did create the run), then
    answered 503, so the retry must find the same run."""
    seen: set[str] = set()

    def refuse(method: str, path: str, body: bytes) -> bool:
        if method != "POST" or not path.endswith("/create_flow_run"):
            return False
        key = json.loads(body).get("idempotency_key")
        first = key not in seen
        seen.add(key)
        return first

    return refuse


# --- the per-store loop on its own (a plain runner: no server needed) ---------------------------


def _closed_window() -> tuple[str, str]:
    now = datetime.now(UTC)
    return (now + timedelta(hours=2)).strftime("%H:%M"), (now + timedelta(hours=3)).strftime(
        "%H:%M"
    )


def _store(store_id: str, window: tuple[str, str] | None = None):
    from multistore.models import Store

    start, end = window or (None, None)
    return Store(id=store_id, name=store_id, timezone="UTC", window_start=start, window_end=end)


async def _loop(store, runner, *, gate=None, retries=2, delays=None):
    from flows.run_stores import _run_with_retries
    from multistore.report import StoreEntry

    entry = StoreEntry(store.id, "MEDIUM")
    await _run_with_retries(
        store,
        entry,
        runner=runner,
        gate=gate or asyncio.Semaphore(1),
        max_retries=retries,
        delays=delays or [0.0] * retries,
        on_change=lambda: None,
    )
    return entry


async def test_a_retry_keeps_the_first_attempts_error() -> None:
    from flows.run_stores import StoreAttempt

    async def runner(store, attempt):
        if attempt == 1:
            return StoreAttempt(ok=False, flow_run_id="run-1", error="HTTP 503", stats=None)
        return StoreAttempt(ok=True, flow_run_id="run-2", error=None, stats=None)

    entry = await _loop(_store("flaky"), runner)
    assert entry.status == "completed" and entry.attempts == 2 and entry.error is None
    assert [
        (a["attempt"], a["outcome"], a["error"], a["flow_run_id"]) for a in entry.attempt_log
    ] == [
        (1, "failed", "HTTP 503", "run-1"),
        (2, "completed", None, "run-2"),
    ]


async def test_a_failed_attempt_of_a_store_that_completed_is_no_longer_red(prefect_server) -> None:
    """Its run becomes a Cancelled-type state named Retried that keeps the error."""
    from prefect import flow

    from flows.run_stores import _mark_retried
    from multistore.report import COMPLETED, StoreEntry

    @flow
    def attempt() -> None:
        raise RuntimeError("HTTP 503 from homenet")

    failed = attempt(return_state=True)
    assert failed.is_failed()
    first = str(failed.state_details.flow_run_id)
    entry = StoreEntry("flaky", "HIGH", status=COMPLETED, attempts=2)
    entry.record_attempt(1, flow_run_id=first, ok=False, error="HTTP 503", started_at=None)
    entry.record_attempt(2, flow_run_id="second-run", ok=True, error=None, started_at=None)
    await _mark_retried(entry)
    async with get_client() as client:
        run = await client.read_flow_run(first)
    assert run.state.type.value == "CANCELLED" and run.state.name == "Retried"
    assert "attempt 1 failed (HTTP 503)" in run.state.message
    assert "completed on attempt 2 (flow run second-run)" in run.state.message


async def test_a_store_whose_window_closed_while_queued_is_not_started() -> None:
    from flows.run_stores import StoreAttempt

    calls = []

    async def runner(store, attempt):
        calls.append(attempt)
        return StoreAttempt(ok=True, flow_run_id=None, error=None, stats=None)

    entry = await _loop(_store("closed-now", _closed_window()), runner)
    assert calls == []
    assert entry.status == "not-started" and entry.attempts == 0
    assert "closed while queued" in entry.error


async def test_no_retry_after_the_window_closed_and_the_slot_is_free_while_waiting() -> None:
    from flows.run_stores import StoreAttempt

    store = _store("closing")
    gate = asyncio.Semaphore(1)
    seen_gate_free = []

    async def runner(store_, attempt):
        if attempt == 2:
            store_.window_start, store_.window_end = _closed_window()
        return StoreAttempt(ok=False, flow_run_id=f"run-{attempt}", error="boom", stats=None)

    async def watcher():
        await asyncio.sleep(0.05)  # inside the first backoff wait
        seen_gate_free.append(not gate.locked())

    entry, _ = await asyncio.gather(
        _loop(store, runner, gate=gate, retries=3, delays=[0.2, 0.0, 0.0]), watcher()
    )
    assert seen_gate_free == [True]
    assert entry.status == "failed" and entry.attempts == 2
    assert entry.flow_run_ids == ["run-1", "run-2"]
    assert entry.error.startswith("boom (no retry: window") and "closed while queued" in entry.error


def test_backoff_grows_by_the_multiplier_and_is_zero_when_instant() -> None:
    from flows.run_stores import _backoff_delays

    assert _backoff_delays(3, 10.0, 2.0, False) == [10.0, 20.0, 40.0]
    assert _backoff_delays(3, 10.0, 2.0, True) == [0.0, 0.0, 0.0]
    assert _backoff_delays(0, 10.0, 2.0, False) == []


async def test_a_runner_that_raises_fails_only_its_store() -> None:
    async def runner(store, attempt):
        raise ConnectionError("server went away\nfor a while")

    entry = await _loop(_store("unlucky"), runner, retries=1)
    assert entry.status == "failed" and entry.attempts == 2
    assert entry.error == "ConnectionError: server went away for a while"


async def test_a_store_failing_every_attempt_is_tried_max_retries_plus_one_times() -> None:
    """The count the failure-isolation test above checks at one retry, at two."""

    async def runner(store, attempt):
        raise ConnectionError(f"homenet_feed down (attempt {attempt})")

    entry = await _loop(_store("down"), runner, retries=2)
    assert entry.status == "failed" and entry.attempts == 3  # max_retries + 1
    assert [a["attempt"] for a in entry.attempt_log] == [1, 2, 3]
    assert all("homenet_feed" in a["error"] for a in entry.attempt_log)


async def test_selection_retries_an_unreachable_registry(prefect_server, monkeypatch) -> None:
    """Nothing listens on the registry's port: selection tries three times, then fails in a line."""
    from devtools.local import free_port
    from multistore.settings import reset_settings

    monkeypatch.setenv(
        "MULTISTORE_DATABASE_URL",
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2",
    )
    reset_settings()
    state = await run_stores(return_state=True)
    assert state.is_failed()
    assert "OperationalError" in state.message or "connection" in state.message.lower()
    async with get_client() as client:
        (selection,) = [
            t
            for t in await client.read_task_runs()
            if t.flow_run_id == state.state_details.flow_run_id
        ]
    assert selection.run_count == 3  # the first try and two retries


async def test_a_store_run_that_never_ends_fails_after_store_timeout_seconds(deployed) -> None:
    """No worker picks the store's deployment run up: it stays SCHEDULED, as a run whose worker
    was killed stays RUNNING. The parent gives up after the timeout, cancels it and goes on."""
    Registry().add("stuck-1", jobs=[])
    state = await asyncio.wait_for(
        run_stores(
            stores=["stuck-1"],
            store_deployment="store-pipeline/default",
            # Half a second: nothing will pick the run up, so any wait proves the same.
            store_timeout_seconds=0.5,
            max_retries=1,
            backoff_seconds=0,
            return_state=True,
        ),
        timeout=120,
    )
    report = await _report(state)
    assert state.is_failed()
    (entry,) = report["stores"]
    assert entry["status"] == "failed"
    assert entry["attempts"] == 2  # the timed-out attempt was retried: the run went on
    assert entry["error"] == "store stuck-1: no final state after 0.5 s"
    assert len(entry["flow_run_ids"]) == 2
    async with get_client() as client:
        for run_id in entry["flow_run_ids"]:
            run = await client.read_flow_run(run_id)
            assert run.state.type.value == "CANCELLED", run.state
