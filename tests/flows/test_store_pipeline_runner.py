"""The store pipeline's runner on a real Prefect server, with stand-in jobs (no outside systems).

The jobs registry is a plain dict of functions: these tests put small functions in it that sleep,
record and fail, so the graph runner's rules are checked exactly. The scenarios against the
sandbox are in test_store_pipeline.py.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows import jobs as jobs_module
from flows.store_pipeline import StorePipelineError, store_pipeline
from multistore.config import parse_store
from multistore.jobgraph import DEFAULT_JOBS, GraphError
from multistore.registry import Registry
from tests.fixtures.registry import store_with_raw_dependencies

pytestmark = pytest.mark.prefect


class Recorder:
    """Stand-in jobs that log when they run and can be told to fail.

    Jobs named together in `meet` wait for each other at a barrier: each pair can only finish if
    both run at the same time (a pair that does not overlap breaks the barrier and fails), which
    proves overlap without sleeping.
    """

    def __init__(
        self,
        *,
        failing: tuple[str, ...] = (),
        meet: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.failing = failing
        self.spans: dict[str, tuple[float, float]] = {}
        self.upstreams: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.barriers = {name: threading.Barrier(2, timeout=60) for pair in meet for name in pair}
        for first, second in meet:
            self.barriers[second] = self.barriers[first]

    def job(self, name: str):
        def run(ctx):
            began = time.monotonic()
            if name in self.barriers:
                self.barriers[name].wait()
            with self.lock:
                self.spans[name] = (began, time.monotonic())
                self.upstreams[name] = dict(ctx.upstream)
            if name in self.failing:
                raise ConnectionError(f"{name} vendor unreachable")
            return {"job": name, "count": len(name)}

        return run


@pytest.fixture
def recorder(monkeypatch):
    def install(**options) -> Recorder:
        rec = Recorder(**options)
        for name in DEFAULT_JOBS:
            monkeypatch.setitem(jobs_module.JOBS, name, rec.job(name))
        return rec

    return install


async def _task_runs(flow_run_id) -> list:
    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


async def test_jobs_start_when_dependencies_end_and_independent_ones_overlap(
    prefect_server, recorder
):
    # Independent jobs run side by side: both roots together, then both of HomeNet's dependents.
    rec = recorder(meet=(("dnc_compliance", "homenet_feed"), ("vdp_scrape", "dealercom_feed")))
    Registry().add("clean-store")
    state = await store_pipeline("clean-store", return_state=True)
    stats = await state.aresult()
    assert state.is_completed()
    assert {name: job["status"] for name, job in stats["jobs"].items()} == dict.fromkeys(
        DEFAULT_JOBS, "completed"
    )
    assert (stats["total_jobs"], stats["successful_jobs"], stats["failed_jobs"]) == (5, 5, 0)
    assert (stats["blocked_jobs"], stats["dependency_violations"]) == (0, 0)
    assert stats["dealers_processed"] == 1 and stats["jobs_per_second"] > 0

    spans = rec.spans
    for before, after in [
        ("homenet_feed", "dealercom_feed"),
        ("homenet_feed", "vdp_scrape"),
        ("vdp_scrape", "url_shorten"),
    ]:
        assert spans[before][1] <= spans[after][0]
    # Independent jobs ran side by side: both roots together, then both of HomeNet's dependents.
    assert spans["dnc_compliance"][0] < spans["homenet_feed"][1]
    assert spans["vdp_scrape"][0] < spans["dealercom_feed"][1]
    assert rec.upstreams["url_shorten"] == {"vdp_scrape": {"job": "vdp_scrape", "count": 10}}

    runs = await _task_runs(state.state_details.flow_run_id)
    assert sorted(r.name for r in runs) == sorted(DEFAULT_JOBS)
    assert all(r.state.is_completed() for r in runs)

    [run] = Registry().history("clean-store")
    assert run.status == "completed"
    assert run.flow_run_id == str(state.state_details.flow_run_id)
    assert run.metrics["successful_jobs"] == 5

    async with get_client() as client:
        artifact = await client.read_latest_artifacts()
    report = next(a for a in artifact if a.key == "store-pipeline-clean-store")
    # The graph as a table the UI renders (it does not draw Mermaid), upstream jobs named.
    assert "mermaid" not in report.data
    assert "| vdp_scrape | ✅ completed | homenet_feed |" in report.data
    assert "| url_shorten | ✅ completed | vdp_scrape |" in report.data


async def test_a_failed_job_blocks_only_its_dependents(prefect_server, recorder):
    rec = recorder(failing=("vdp_scrape",))
    Registry().add("flaky-store")
    state = await store_pipeline("flaky-store", return_state=True)
    assert state.is_failed()
    with pytest.raises(StorePipelineError) as err:
        await state.aresult()
    assert str(err.value) == (
        "store flaky-store: failed: vdp_scrape (ConnectionError: vdp_scrape vendor unreachable);"
        " blocked: url_shorten"
    )
    assert "url_shorten" not in rec.spans  # never ran
    runs = await _task_runs(state.state_details.flow_run_id)
    assert sorted(r.name for r in runs) == sorted(set(DEFAULT_JOBS) - {"url_shorten"})

    [run] = Registry().history("flaky-store")
    jobs = run.metrics["jobs"]
    assert {n: j["status"] for n, j in jobs.items()} == {
        "homenet_feed": "completed",
        "dealercom_feed": "completed",
        "vdp_scrape": "failed",
        "url_shorten": "blocked",
        "dnc_compliance": "completed",
    }
    assert jobs["url_shorten"]["blocked_by"] == "vdp_scrape"
    assert (run.status, run.metrics["failed_jobs"], run.metrics["blocked_jobs"]) == ("failed", 1, 1)
    assert run.error.startswith("store flaky-store: failed: vdp_scrape")


async def test_a_root_failure_blocks_the_whole_branch(prefect_server, recorder):
    recorder(failing=("homenet_feed",))
    Registry().add("down-store")
    state = await store_pipeline("down-store", return_state=True)
    [run] = Registry().history("down-store")
    statuses = {n: j["status"] for n, j in run.metrics["jobs"].items()}
    assert statuses == {
        "homenet_feed": "failed",
        "dealercom_feed": "blocked",
        "vdp_scrape": "blocked",
        "url_shorten": "blocked",
        "dnc_compliance": "completed",
    }
    assert run.metrics["jobs"]["url_shorten"]["blocked_by"] == "homenet_feed"
    assert state.is_failed()


async def test_a_cyclic_configuration_is_refused_before_any_task_runs(prefect_server, recorder):
    rec = recorder()
    # The registry refuses such a store; one written by hand (or by an older version) still
    # reaches the pipeline, which must refuse it too.
    store_with_raw_dependencies("loop-store", {"homenet_feed": ["url_shorten"]})
    state = await store_pipeline("loop-store", return_state=True)
    assert state.is_failed()
    with pytest.raises(
        GraphError, match="homenet_feed -> vdp_scrape -> url_shorten -> homenet_feed"
    ):
        await state.aresult()
    assert rec.spans == {}
    assert await _task_runs(state.state_details.flow_run_id) == []
    [run] = Registry().history("loop-store")
    assert run.status == "failed" and "dependency cycle" in run.error


async def test_the_jobs_parameter_runs_a_subgraph(prefect_server, recorder):
    rec = recorder()
    Registry().add("partial-store")
    stats = await store_pipeline("partial-store", jobs=["homenet_feed", "dealercom_feed"])
    assert list(stats["jobs"]) == ["homenet_feed", "dealercom_feed"]
    assert set(rec.spans) == {"homenet_feed", "dealercom_feed"}


async def test_registry_calls_run_off_the_event_loop(prefect_server, recorder, monkeypatch):
    """The registry is blocking SQL: in subflow mode a call on the loop would stall every store."""
    import asyncio

    recorder()
    Registry().add("offloop-store")
    on_a_loop: dict[str, list[bool]] = {}
    for name in ("get", "start_run", "finish_run"):
        original = getattr(Registry, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            try:
                asyncio.get_running_loop()
                running = True
            except RuntimeError:
                running = False
            on_a_loop.setdefault(_name, []).append(running)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Registry, name, spy)
    await store_pipeline("offloop-store", jobs=["homenet_feed"])
    assert on_a_loop == {"get": [False], "start_run": [False], "finish_run": [False]}


async def test_a_prefect_server_refusing_the_artifact_costs_the_artifact_not_the_run(
    prefect_server, recorder, monkeypatch, caplog
):
    """A store's outcome is recorded before anything on the orchestrator's server: a server
    that fails the job graph artifact leaves the run completed, with one line naming it."""
    import httpx

    from flows import store_pipeline as pipeline_module
    from multistore import orchestrator

    async def unreachable(*args, **kwargs):
        raise httpx.ConnectError("All connection attempts failed")

    # The artifact is tried through a whole outage budget first; a clock its waits move spends
    # that budget without the test waiting for it.
    clock = {"now": 0.0}

    async def moved(seconds):
        clock["now"] += seconds

    def through_a_moved_clock(call, **kwargs):
        return orchestrator.athrough_outage(call, now=lambda: clock["now"], sleep=moved, **kwargs)

    recorder()
    Registry().add("artifact-store")
    monkeypatch.setattr(pipeline_module, "acreate_markdown_artifact", unreachable)
    monkeypatch.setattr(pipeline_module, "athrough_outage", through_a_moved_clock)
    stats = await store_pipeline("artifact-store", jobs=["homenet_feed"])
    assert stats["successful_jobs"] == 1
    (run,) = Registry().history("artifact-store")
    assert run.status == "completed" and run.metrics["successful_jobs"] == 1
    assert clock["now"] >= orchestrator.OUTAGE_SECONDS
    assert "store artifact-store: its job graph artifact was not saved" in caplog.text
    assert (
        f"unreachable for {orchestrator.OUTAGE_SECONDS:.0f} s while writing the job graph "
        "artifact of store artifact-store: ConnectError: All connection attempts failed"
    ) in caplog.text


async def test_a_store_capped_at_one_job_runs_its_jobs_one_at_a_time(
    prefect_server, recorder, monkeypatch
):
    """The store's `max_concurrent_jobs` reaches the ready queue (whose cap is proved in
    tests/flows/test_store_caps.py), and its jobs run one after another in graph order."""
    from flows import store_pipeline as runner_module

    caps = []
    run_graph = runner_module._run_graph

    async def recording(*args, **kwargs):
        caps.append(kwargs.get("max_jobs"))
        return await run_graph(*args, **kwargs)

    monkeypatch.setattr(runner_module, "_run_graph", recording)
    rec = recorder()
    Registry().import_stores(
        [parse_store({"id": "one-at-a-time", "max_concurrent_jobs": 1})], merge=True
    )
    state = await store_pipeline("one-at-a-time", return_state=True)
    assert state.is_completed()
    assert caps == [1]
    order = sorted(rec.spans, key=lambda job: rec.spans[job][0])
    assert order == list(DEFAULT_JOBS)
    for earlier, later in itertools.pairwise(order):
        assert rec.spans[earlier][1] <= rec.spans[later][0]
