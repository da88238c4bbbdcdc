"""prefect.git.yaml: a worker that has no checkout runs the code of a pinned commit.

The remote is a bare repository holding this checkout's HEAD; the deployer is a clone of it. The
worker starts in a directory of its own, and each flow run clones the remote at the commit that
was deployed. The run report names the directory the code was loaded from and its commit, so
the test sees the code came from a clone at that commit, not from this checkout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.local import pause_schedules, prefect_env
from multistore.registry import Registry
from multistore.settings import get_settings
from tests.fixtures.prefect_server import ROOT, prefect_deploy, start_worker, wait_final

pytestmark = pytest.mark.prefect

GIT_YAML = "prefect.git.yaml"
CLONE_STEP = "prefect.deployments.steps.git_clone"


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def git_remote(tmp_path: Path) -> tuple[Path, Path, str]:
    """(bare remote, deployer's clone of it, the commit) with this checkout's HEAD on the remote."""
    head = _git("rev-parse", "HEAD", cwd=ROOT)
    remote = tmp_path / "remote.git"
    _git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    _git("push", "--quiet", str(remote), "HEAD:refs/heads/main", cwd=ROOT)
    deployer = tmp_path / "deployer"
    _git("clone", "--quiet", "--branch", "main", str(remote), str(deployer), cwd=tmp_path)
    return remote, deployer, head


async def test_a_worker_elsewhere_runs_the_pinned_commit(
    prefect_server, git_remote, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState
    from prefect.client.schemas.objects import StateType

    from flows.work_pools import ensure_process_pool

    remote, deployer, head = git_remote
    await ensure_process_pool()
    env = prefect_env(tmp_path / "home", prefect_server.url)
    env.pop("PYTHONPATH", None)
    prefect_deploy(env, "--all", "--prefect-file", GIT_YAML, cwd=deployer, timeout=300)
    pinned = [{CLONE_STEP: {"repository": str(remote), "commit_sha": head}}]
    async with get_client() as client:
        adhoc = await client.read_deployment_by_name("run-stores/adhoc-git")
        # Every deployment of the file (the tick, heartbeats, supply, … as in prefect.yaml)
        # clones the pinned commit. The scheduled ones are paused: this test's worker runs only
        # the runs it starts (the first heartbeat would come a minute after the deploy).
        deployed = [
            d
            for d in await client.read_deployments()
            if d.name.endswith("-git") and d.pull_steps == pinned
        ]
        # The session's server may also hold scheduled deployments of earlier test files
        # (test_deployments deploys prefect.yaml's tick): paused too, and their runs already
        # scheduled deleted, so this test's worker runs nothing but this test's runs.
        pause_schedules(prefect_server.url)
        scheduled = FlowRunFilter(state=FlowRunFilterState(type={"any_": [StateType.SCHEDULED]}))
        for waiting in await client.read_flow_runs(flow_run_filter=scheduled):
            await client.delete_flow_run(waiting.id)
    assert len(deployed) == len(yaml.safe_load((ROOT / GIT_YAML).read_text())["deployments"])
    assert {d.name for d in deployed} >= {"every-5-minutes-git", "adhoc-git", "default-git"}
    assert adhoc.parameters["store_deployment"] == "store-pipeline/default-git"

    # A commit after the deploy does not reach the workers: they clone the pinned one.
    author = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    _git(*author, "commit", "--quiet", "--allow-empty", "-m", "later", cwd=deployer)
    _git("push", "--quiet", "origin", "main", cwd=deployer)

    # One store: its run is a second flow-run process that clones the pinned commit (the
    # parent's is the first); a second store would only clone it once more.
    registry = Registry()
    registry.add("git-1", jobs=[])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    worker = start_worker("git-worker", env, tmp_path / "worker.log", cwd=elsewhere)
    try:
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(
                adhoc.id, parameters={"stores": ["git-1"]}
            )
        run = await wait_final(str(run.id), timeout=300)
    finally:
        worker.stop()
    log = (tmp_path / "worker.log").read_text()[-3000:]
    assert run.state.is_completed(), f"{run.state.message}\n{log}"
    report = json.loads((get_settings().data_dir / "reports" / "latest.json").read_text())
    assert report["flow_run_id"] == str(run.id)
    assert [s["status"] for s in report["stores"]] == ["completed"]
    # The parent's code came from a clone at the pinned commit, not from this checkout.
    assert report["code"]["revision"] == head
    assert not Path(report["code"]["root"]).is_relative_to(ROOT)
    assert not Path(report["code"]["root"]).is_relative_to(deployer)
    assert Path(report["code"]["root"]).name == "remote"
    runs = registry.history("git-1")
    assert [r.status for r in runs] == ["completed"], [
        (r.status, r.error, r.flow_run_id, r.started_at) for r in runs
    ]


def test_deploying_an_unpushed_commit_fails_in_one_line(git_remote) -> None:
    remote, deployer, head = git_remote
    source = [str(deployer / "scripts" / "git-source.sh")]
    pinned = subprocess.run([*source, "commit"], cwd=deployer, capture_output=True, text=True)
    assert (pinned.returncode, pinned.stdout.strip()) == (0, head)
    assert subprocess.run(
        [*source, "url"], cwd=deployer, capture_output=True, text=True
    ).stdout == (f"{remote}\n")

    author = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    _git(*author, "commit", "--quiet", "--allow-empty", "-m", "local only", cwd=deployer)
    refused = subprocess.run([*source, "commit"], cwd=deployer, capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert "is not on remote 'origin'" in line and "git push" in line
