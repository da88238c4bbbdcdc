"""The Docker work pool, run for real: prefect.docker.yaml deployed, a prefect-docker worker, and
a run of the stores in a container of the project's image that starts its dealer's DNC compliance
run in another.

The containers use the host's network, so they reach the session's Prefect server, the registry
on PostgreSQL and the sandbox on 127.0.0.1. Blocks come from the server and settings from the job
variables: the image holds neither. The CRM afterwards must equal what the sandbox's ground
truth and the rules (written out independently in tests/flows/test_dnc_compliance.py) say.

The pre-flight checks run in the real image too: a stale image, an unreachable server and an
unreachable registry each stop a container in one line before any store work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local import free_port, prefect_env
from multistore.compliance import ComplianceRules
from multistore.registry import Registry
from multistore.settings import get_settings
from tests.fixtures.docker import BUILD_TIMEOUT
from tests.fixtures.prefect_server import ROOT, prefect_deploy, start_worker, wait_final
from tests.flows.test_dnc_compliance import expected_flags

pytestmark = [pytest.mark.docker, pytest.mark.timeout(2400)]

# The store has a contact whom Indiana's rule (no EBR exemption, multistore/defaults/
# compliance.yaml) blocks and the federal one would leave callable: an image without the packaged
# rules gets its CRM wrong (checked below, before anything runs). One store: the parent's
# container starts its store's container through the pool, which is what only real parts prove;
# a second store would add a container, its flow imports and a Chromium, and prove nothing more.
STORES = ["docker-10"]
CONTACTS = 8
BUILD_SCRIPT = str(ROOT / "scripts" / "build_image.py")


def _preflight(image: str, **env: str) -> subprocess.CompletedProcess:
    """`python scripts/preflight.py true` in a container of `image`, on the host's network."""
    import docker

    client = docker.from_env(version="auto")
    container = client.containers.run(
        image,
        ["python", "/opt/multistore/scripts/preflight.py", "true"],
        environment=env,
        network_mode="host",
        detach=True,
    )
    try:
        status = container.wait(timeout=120)["StatusCode"]
        stderr = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
        client.close()
    return subprocess.CompletedProcess([], status, "", stderr)


def _remove_containers(pool: str) -> None:
    """The flow-run containers of `pool` still there (a failed run's, a stopped worker's)."""
    import docker

    client = docker.from_env(version="auto")
    try:
        for container in client.containers.list(
            all=True, filters={"label": f"prefect.io/work-pool-name={pool}"}
        ):
            container.remove(force=True)
    finally:
        client.close()


def _image_label(image: str, label: str) -> str:
    import docker

    client = docker.from_env(version="auto")
    try:
        return client.images.get(image).labels[label]
    finally:
        client.close()


def test_no_engine_is_one_line() -> None:
    built = subprocess.run(
        [sys.executable, BUILD_SCRIPT],
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert built.returncode == 1 and built.stdout == ""
    (line,) = built.stderr.splitlines()
    assert "no Docker engine answers at unix:///nonexistent/docker.sock" in line
    assert "dockerd" in line


def test_deploying_without_the_job_settings_is_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MULTISTORE_SANDBOX_URL"}
    built = subprocess.run(
        [sys.executable, BUILD_SCRIPT, "--require", "MULTISTORE_SANDBOX_URL"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert built.returncode == 1
    (line,) = built.stderr.splitlines()
    assert "set MULTISTORE_SANDBOX_URL before deploying prefect.docker.yaml" in line


def test_preflight_stops_a_stale_image_and_unreachable_parts(
    docker_image: str, prefect_server, tmp_path: Path
) -> None:
    name, version = docker_image.rsplit(":", 1)
    closed = f"127.0.0.1:{free_port()}"
    server = {"PREFECT_API_URL": prefect_server.url}

    passed = _preflight(docker_image, MULTISTORE_IMAGE_EXPECTED=docker_image, **server)
    assert passed.returncode == 0, passed.stderr

    stale = _preflight(docker_image, MULTISTORE_IMAGE_EXPECTED=f"{name}:0000deadbeef", **server)
    assert stale.returncode == 1
    (line,) = stale.stderr.splitlines()
    assert f"holds multistore version {version}, the deployment was built for 0000deadbeef" in line
    assert "scripts/build_image.py" in line

    no_server = _preflight(docker_image, PREFECT_API_URL=f"http://{closed}/api")
    assert no_server.returncode == 1
    (line,) = no_server.stderr.splitlines()
    assert f"cannot reach the Prefect server at http://{closed}/api" in line
    assert "network_mode host" in line

    no_registry = _preflight(
        docker_image,
        MULTISTORE_DATABASE_URL=f"postgresql+psycopg://postgres@{closed}/multistore",
        **server,
    )
    assert no_registry.returncode == 1
    (line,) = no_registry.stderr.splitlines()
    assert f"registry database postgresql+psycopg://postgres@{closed}/multistore" in line


@pytest.mark.postgres
@pytest.mark.prefect
@pytest.mark.browser
async def test_a_store_runs_in_containers_on_the_docker_pool(
    docker_image: str, prefect_server, pg_registry_url: str, sandbox, tmp_path: Path, monkeypatch
) -> None:
    from prefect import get_client

    from flows.setup import setup
    from flows.work_pools import DOCKER_POOL

    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", CONTACTS)
    registry = Registry()
    for store_id in STORES:
        registry.add(store_id, jobs=["dnc_compliance"])
    await setup(sandbox_url=sandbox.url, seed_sandbox=True, docker_pool=True)
    for store_id in STORES:
        federal = expected_flags(sandbox, store_id, ComplianceRules())
        assert federal != expected_flags(sandbox, store_id), f"{store_id}: no state rule matters"

    env = prefect_env(tmp_path / "home", prefect_server.url)
    env.update(
        # What the containers get in their job variables (prefect.docker.yaml).
        MULTISTORE_DATA_DIR=str(get_settings().data_dir),
        MULTISTORE_DATABASE_URL=pg_registry_url,
        MULTISTORE_SANDBOX_URL=sandbox.url,
        MULTISTORE_IMAGE_BASE="local",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    prefect_deploy(
        env,
        *("--prefect-file", "prefect.docker.yaml"),
        *("--name", "run-stores/adhoc-docker", "--name", "store-pipeline/default-docker"),
        timeout=BUILD_TIMEOUT,
        tail=3000,
    )
    async with get_client() as client:
        adhoc = await client.read_deployment_by_name("run-stores/adhoc-docker")
    # The deploy's build step found the image the fixture built: same code, same tag.
    assert adhoc.job_variables["image"] == docker_image
    assert adhoc.job_variables["network_mode"] == "host"
    assert adhoc.work_pool_name == DOCKER_POOL

    log = tmp_path / "docker-worker.log"
    worker = start_worker("docker-worker", env, log, pool=DOCKER_POOL)
    try:
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(
                adhoc.id, parameters={"stores": STORES}
            )
        run = await wait_final(str(run.id), timeout=900)
    finally:
        worker.stop()
        _remove_containers(DOCKER_POOL)
    assert run.state.is_completed(), f"{run.state.message}\n{log.read_text()[-4000:]}"

    # The parent ran in a container of the image: its report names the image's code.
    report = json.loads((get_settings().data_dir / "reports" / "latest.json").read_text())
    assert report["flow_run_id"] == str(run.id)
    assert report["code"]["root"] == "/opt/multistore"
    assert report["code"]["revision"] == _image_label(docker_image, "org.multistore.revision")
    # The image's commit is this checkout's (or, when only files outside the image changed
    # since it was built, an ancestor: the image's tag hashes the code, not the commit).
    ancestor = ["git", "merge-base", "--is-ancestor", report["code"]["revision"], "HEAD"]
    assert subprocess.run(ancestor, cwd=ROOT).returncode == 0
    assert [s["status"] for s in report["stores"]] == ["completed"]
    for store_id in STORES:
        (history,) = registry.history(store_id)
        assert history.status == "completed"
        assert sandbox.admin.crm_flags(store_id) == expected_flags(sandbox, store_id)
