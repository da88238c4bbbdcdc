"""prefect.yaml and its variants (prefect.docker.yaml, prefect.git.yaml): checked against Prefect's
and prefect-docker's own models, the variants against prefect.yaml's deployments, then prefect.yaml
deployed with `prefect --no-prompt deploy --all` and run the way a user types it.

Prefect ignores unknown deployment keys without a word, so the key checks here are what stands
between a typo and a silently missing feature.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from prefect.cli.deploy._models import DeploymentConfig, PrefectYamlModel, RawScheduleConfig
from prefect.flows import load_flow_from_entrypoint

from devtools.local import RUN_LOG_ENV, pause_schedules, prefect_env
from multistore.config import load_store_file
from multistore.registry import Registry
from multistore.run_options import REGION_ZONES
from tests.fixtures.prefect_server import PREFECT, ROOT, prefect_deploy, start_worker, wait_final

PREFECT_YAML = ROOT / "prefect.yaml"
DOCKER_YAML = ROOT / "prefect.docker.yaml"
GIT_YAML = ROOT / "prefect.git.yaml"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", [PREFECT_YAML, DOCKER_YAML, GIT_YAML], ids=lambda p: p.name)
def test_every_key_is_one_prefect_reads(path: Path) -> None:
    raw = _load(path)
    PrefectYamlModel.model_validate(raw)
    known_top = set(PrefectYamlModel.model_fields) | {"prefect-version", "definitions"}
    assert set(raw) <= known_top, f"{path.name}: unknown top-level keys {set(raw) - known_top}"
    for deployment in raw["deployments"]:
        unknown = set(deployment) - set(DeploymentConfig.model_fields)
        assert not unknown, f"{path.name}: {deployment['name']}: unknown keys {unknown}"
        assert set(deployment["work_pool"]) <= {"name", "work_queue_name", "job_variables"}
        for schedule in deployment.get("schedules") or []:
            unknown = set(schedule) - set(RawScheduleConfig.model_fields)
            assert not unknown, f"{path.name}: {deployment['name']}: schedule keys {unknown}"


@pytest.mark.parametrize("path", [PREFECT_YAML, DOCKER_YAML, GIT_YAML], ids=lambda p: p.name)
def test_entrypoints_load_and_parameters_fit_the_flows(path: Path) -> None:
    for deployment in _load(path)["deployments"]:
        flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        parameters = dict(deployment.get("parameters") or {})
        for schedule in deployment.get("schedules") or []:
            parameters.update(schedule.get("parameters") or {})
        signature = inspect.signature(flow.fn)
        assert set(parameters) <= set(signature.parameters), deployment["name"]
        # A run supplies what the deployment leaves out (a store run's store_id).
        required = {
            name: "some-store"
            for name, p in signature.parameters.items()
            if p.default is inspect.Parameter.empty
        }
        flow.validate_parameters({**required, **parameters})


@pytest.mark.parametrize("path", [PREFECT_YAML, DOCKER_YAML, GIT_YAML], ids=lambda p: p.name)
def test_the_tick_is_the_only_schedule_every_5_minutes(path: Path) -> None:
    """The scheduler replaces the per-region crons: no parent runs on a schedule; the tick
    runs every 5 minutes."""
    deployments = _load(path)["deployments"]
    parents = [d for d in deployments if d["entrypoint"] == "flows/run_stores.py:run_stores"]
    assert not any(d.get("schedules") for d in parents)
    (tick,) = [d for d in deployments if d["entrypoint"] == "flows/tick.py:tick_flow"]
    assert tick["entrypoint"] == "flows/tick.py:tick_flow"
    assert [s.get("interval") for s in tick["schedules"]] == [300]
    assert not any("cron" in s for s in tick["schedules"])


async def test_ticks_have_their_own_queue_first_in_the_pool_and_store_runs_never_use_it(
    prefect_server,
) -> None:
    """A tick must not wait behind store runs: it goes to the `ticks` queue, which setup puts
    first in the pool's priority order; every store run goes to the `default` queue."""
    from prefect import get_client

    from flows.work_pools import TICK_QUEUE, ensure_docker_pool, ensure_process_pool

    deployments = _load(PREFECT_YAML)["deployments"]
    queues = {d["entrypoint"]: d["work_pool"]["work_queue_name"] for d in deployments}
    assert queues.pop("flows/tick.py:tick_flow") == TICK_QUEUE
    assert set(queues.values()) == {"default"}
    for pool, ensure in (
        ("queue-test-pool", ensure_process_pool),
        ("queue-test-docker", ensure_docker_pool),  # prefect.docker.yaml's tick uses it too
    ):
        await ensure(pool)
        await ensure(pool)  # idempotent
        async with get_client() as client:
            found = await client.read_work_queues(work_pool_name=pool)
        order = [q.name for q in sorted(found, key=lambda q: q.priority)]
        assert order == [TICK_QUEUE, "default"], pool


VARIANT_SUFFIXES = {GIT_YAML: "-git", DOCKER_YAML: "-docker"}
VARIANTS_SCRIPT = ROOT / "scripts" / "deployment_variants.py"


@pytest.mark.parametrize("path", list(VARIANT_SUFFIXES), ids=lambda p: p.name)
def test_a_variant_carries_every_deployment_of_prefect_yaml(path: Path) -> None:
    """The same deployments, flows, parameters, schedules and limits; only the name's suffix,
    a tag, the work pool and where a parent starts its store runs differ."""
    suffix = VARIANT_SUFFIXES[path]
    base_file, variant_file = _load(PREFECT_YAML), _load(path)
    base = {(d["entrypoint"], d["name"] + suffix): d for d in base_file["deployments"]}
    variant = {(d["entrypoint"], d["name"]): d for d in variant_file["deployments"]}
    assert len(variant) == len(variant_file["deployments"]), "a deployment twice"
    assert set(variant) == set(base)
    pool = next(iter(variant_file["definitions"]["work_pools"].values()))
    for key, ours in variant.items():
        theirs = base[key]
        # The variant's pool, with prefect.yaml's queue (the tick's `ticks`, first in the pool).
        queue = theirs["work_pool"]["work_queue_name"]
        assert ours["work_pool"] == {**pool, "work_queue_name": queue}, key
        assert set(ours["tags"]) == {*theirs["tags"], suffix.removeprefix("-")}, key
        assert ours.get("concurrency_limit") == theirs.get("concurrency_limit"), key
        slugless = [
            [{k: v for k, v in s.items() if k != "slug"} for s in d.get("schedules") or []]
            for d in (ours, theirs)
        ]
        assert slugless[0] == slugless[1], key
        if theirs.get("parameters") == base_file["definitions"]["run_parameters"]:
            assert ours["parameters"] == variant_file["definitions"]["run_parameters"], key
            continue
        expected = dict(theirs.get("parameters") or {})
        if "store_deployment" in expected:
            expected["store_deployment"] += suffix
        assert (ours.get("parameters") or {}) == expected, key


def test_the_variants_are_written_from_prefect_yaml() -> None:
    checked = subprocess.run(
        [sys.executable, str(VARIANTS_SCRIPT), "--check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_a_deployment_added_to_prefect_yaml_alone_is_named_stale(tmp_path: Path) -> None:
    for path in (PREFECT_YAML, *VARIANT_SUFFIXES):
        (tmp_path / path.name).write_text(path.read_text())
    added = """
  - name: hourly
    entrypoint: flows/heartbeats.py:heartbeats
    tags: [multistore]
    work_pool: *process_pool
"""
    with (tmp_path / PREFECT_YAML.name).open("a") as base:
        base.write(added)
    argv = [sys.executable, str(VARIANTS_SCRIPT), "--root", str(tmp_path)]
    checked = subprocess.run([*argv, "--check"], capture_output=True, text=True)
    assert checked.returncode == 1
    lines = checked.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["prefect.git.yaml", "prefect.docker.yaml"]
    assert all("run python scripts/deployment_variants.py" in line for line in lines)

    written = subprocess.run(argv, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    docker = _load(tmp_path / DOCKER_YAML.name)
    (hourly,) = [d for d in docker["deployments"] if d["name"] == "hourly-docker"]
    assert hourly["work_pool"]["name"] == "multistore-docker"
    assert hourly["tags"] == ["multistore", "docker"]
    # The hand-written part of the file (build, pull, the work pool) is as it was.
    head = DOCKER_YAML.read_text().split("deployments:")[0]
    assert (tmp_path / DOCKER_YAML.name).read_text().startswith(head)
    recheck = subprocess.run([*argv, "--check"], capture_output=True, text=True)
    assert recheck.returncode == 0, recheck.stderr


def test_the_region_choices_are_the_example_stores_regions_in_one_of_their_zones() -> None:
    """A run's region choices (and the zone its run name shows) match the example stores."""
    stores = load_store_file(ROOT / "data" / "stores.example.yaml")
    zones_by_region: dict[str, set[str]] = {}
    for store in stores:
        if store.region:
            zones_by_region.setdefault(store.region, set()).add(store.timezone)
    assert set(zones_by_region) == set(REGION_ZONES)
    for region, tz in REGION_ZONES.items():
        assert tz in zones_by_region[region], region


def test_docker_steps_and_job_variables_match_prefect_docker() -> None:
    from prefect.deployments.steps import run_shell_script
    from prefect_docker.worker import DockerWorker

    raw = _load(DOCKER_YAML)
    accepted = set(inspect.signature(run_shell_script).parameters) | {"id", "requires"}
    for section in ("build", "push"):
        (step,) = raw[section]
        (name, kwargs) = next(iter(step.items()))
        assert name == "prefect.deployments.steps.run_shell_script", section
        assert set(kwargs) <= accepted, f"{section}: {set(kwargs) - accepted}"
        assert kwargs["script"].startswith("python scripts/build_image.py")
    assert raw["build"][0]["prefect.deployments.steps.run_shell_script"]["id"] == "build-image"
    template = DockerWorker.get_default_base_job_template()["variables"]["properties"]
    for deployment in raw["deployments"]:
        variables = deployment["work_pool"]["job_variables"]
        assert set(variables) <= set(template), set(variables) - set(template)
        assert variables["image"] == "{{ build-image.stdout }}"
        assert variables["env"]["MULTISTORE_IMAGE_EXPECTED"] == "{{ build-image.stdout }}"
        assert deployment["work_pool"]["name"] == "multistore-docker"
    # The pull step's directory is where the Dockerfile puts the code.
    (pull,) = raw["pull"]
    directory = pull["prefect.deployments.steps.set_working_directory"]["directory"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"WORKDIR {directory}" in dockerfile
    assert "COPY . ." in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "data/*", ".wheelhouse"} <= set(ignored)
    # Runs of the Docker parents start Docker store runs.
    for deployment in raw["deployments"]:
        if deployment["entrypoint"].startswith(("flows/run_stores.py", "flows/tick.py")):
            target = deployment["parameters"]["store_deployment"]
            assert target == "store-pipeline/default-docker"


@pytest.mark.prefect
async def test_deploy_all_then_run_adhoc_as_typed(prefect_server, tmp_path: Path) -> None:
    """`prefect --no-prompt deploy --all`, a process worker, `prefect deployment run … --param`."""
    from prefect import get_client

    from flows.work_pools import PROCESS_POOL, ensure_process_pool

    await ensure_process_pool()
    env = prefect_env(tmp_path / "cli-home", prefect_server.url)
    prefect_deploy(env, "--all", timeout=300, tail=3000)
    async with get_client() as client:
        ticker = await client.read_deployment_by_name("tick/every-5-minutes")
        adhoc = await client.read_deployment_by_name("run-stores/adhoc")
        store = await client.read_deployment_by_name("store-pipeline/default")
    assert [s.schedule.interval.total_seconds() for s in ticker.schedules] == [300]
    assert not adhoc.schedules
    assert adhoc.parameters["store_deployment"] == "store-pipeline/default"
    assert store.work_pool_name == adhoc.work_pool_name == PROCESS_POOL
    # Without a git remote the code is found through the checkout's path.
    assert adhoc.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
    ]

    # The scheduled deployments paused (their scheduled runs deleted), as a --once demo does:
    # the heartbeat due a minute after the deploy would otherwise be one more flow-run process on
    # this worker, and its stop would wait for that run.
    pause_schedules(prefect_server.url)

    registry = Registry()
    registry.add("typed-1", jobs=[], priority="high")
    registry.add("typed-2", jobs=[])
    registry.add("not-asked", jobs=[])
    # The worker logs at WARNING, as a quiet production worker would: the INFO lines below reach
    # the server only because prefect.yaml's job variables set the run loggers to INFO.
    worker_env = {k: v for k, v in env.items() if k not in RUN_LOG_ENV}
    worker_env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    worker = start_worker("deploy-test-worker", worker_env, tmp_path / "worker.log")
    try:
        typed = subprocess.run(
            "prefect deployment run 'run-stores/adhoc' --param stores='[\"typed-1\",\"typed-2\"]'",
            shell=True,
            cwd=ROOT,
            env={**env, "PATH": f"{Path(PREFECT).parent}:{env['PATH']}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert typed.returncode == 0, typed.stdout + typed.stderr
        run_id = re.search(r"UUID: ([0-9a-f-]{36})", typed.stdout).group(1)
        run = await wait_final(run_id, timeout=300)
    finally:
        worker.stop()
    assert run.state.is_completed(), (tmp_path / "worker.log").read_text()[-3000:]
    assert run.parameters["stores"] == ["typed-1", "typed-2"]
    report = json.loads((registry_data_dir() / "reports" / "latest.json").read_text())
    assert report["flow_run_id"] == run_id
    assert [s["store_id"] for s in report["stores"]] == ["typed-1", "typed-2"]
    assert [s["status"] for s in report["stores"]] == ["completed", "completed"]
    assert registry.history("not-asked") == []

    # The parent's and a store's INFO lines, read back from the server: what the UI shows.
    parent_logs = await _info_logs(run_id, "stores selected")
    assert "2 stores selected, 0 skipped" in parent_logs
    store_run_id = report["stores"][0]["flow_run_ids"][0]
    # Runs named for what they cover, in the runs list.
    async with get_client() as client:
        assert (await client.read_flow_run(run_id)).name == "adhoc: typed-1, typed-2"
        assert (await client.read_flow_run(store_run_id)).name == "typed-1 attempt 1"
    store_logs = await _info_logs(store_run_id, "store typed-1")
    assert "store typed-1: 0 completed, 0 failed, 0 blocked" in store_logs


async def _info_logs(flow_run_id: str, expected: str, *, timeout: float = 60) -> str:
    """The flow run's INFO records on the server, once one contains `expected`.

    A run's last records are flushed as its process exits, just after its final state.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel

    log_filter = LogFilter(
        flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]), level=LogFilterLevel(ge_=20, le_=20)
    )
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            text = "\n".join(log.message for log in await client.read_logs(log_filter=log_filter))
            if expected in text or time.monotonic() > deadline:
                return text
            await asyncio.sleep(0.5)


def registry_data_dir() -> Path:
    from multistore.settings import get_settings

    return get_settings().data_dir
