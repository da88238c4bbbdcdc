"""Start and stop the processes multistore runs beside: a Prefect server, workers, the sandbox,
a Docker engine.

Used by the demo, the benchmarks and the test fixtures, so that all three start things the same way.
Plain subprocesses: this module never imports Prefect itself (it only flushes the clients of a
process that already has, before stopping that process's server).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools import PREFECT
from devtools.prefect_db import seed_sqlite

# Flow and task run loggers at INFO: their records are what the Prefect UI shows on a run's page
# (its API handler only sees what passes the logger's level). Prefect's own chatter stays at
# WARNING. prefect.yaml sets the same for deployment runs through the work pool's job variables.
RUN_LOG_ENV = {
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "INFO",
}

# Settings every Prefect process we start shares (shared/PREFECT_NOTES.md says why).
PREFECT_SERVER_ENV = {
    # Slot leases survive a server restart instead of leaking for good.
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": (
        "prefect.server.concurrency.lease_storage.filesystem"
    ),
    # A blocked tagged task polls again after at most this long (default 10 s wastes pool time).
    "PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS": "1",
    # A client's calls wait through a server restart of about 4 minutes, not 1 (prefect.yaml).
    "PREFECT_CLIENT_MAX_RETRIES": "7",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_ENABLED": "true",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    **RUN_LOG_ENV,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers 200, or fail naming it (and the process's exit, if it died)."""
    deadline = time.monotonic() + timeout
    # One client for every poll: httpx.get makes a client, and its TLS context, each time
    # (~20 ms of CPU: at five polls a second, a tenth of a core for as long as a server starts).
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"{url}: the process serving it exited with {process.returncode}"
                )
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Managed:
    """A process we started, stopped with its whole process group."""

    name: str
    process: subprocess.Popen
    url: str = ""
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def terminate(self) -> None:
        """Tell the process group to stop (SIGTERM) without waiting for it: `stop` waits."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill -9 the process and its process group, as the OOM killer or a lost machine would:
        nothing it runs gets to clean up. Flow runs a process worker started live in sessions of
        their own and survive this; `kill_flow_run` kills one of them."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)


def stop_all(processes: list[Managed], timeout: float = 15.0) -> None:
    """Stop them together: all are told (SIGTERM) first, then each is stopped in turn, which
    tells it once more. A Prefect worker takes that second SIGTERM as "exit now" rather than
    waiting for flow-run processes still exiting (one held a worker's stop for its whole
    timeout): this is for processes whose work is over or no longer wanted. One that must drain
    gets `stop()` on its own."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop(timeout)


def pause_schedules(api: str) -> int:
    """Pause every deployment on the server at `api` that has an active schedule; how many.
    Pausing also deletes the runs its schedule already made, so a worker started afterwards
    runs only the runs asked of it. The next `prefect deploy` makes the schedules active again."""
    try:
        found = httpx.post(f"{api}/deployments/filter", json={}, timeout=30)
        found.raise_for_status()
        scheduled = [d["id"] for d in found.json() if d.get("schedules") and not d.get("paused")]
        for deployment_id in scheduled:
            paused = httpx.post(f"{api}/deployments/{deployment_id}/pause_deployment", timeout=30)
            paused.raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(f"pausing the schedules failed: {exc}") from None
    return len(scheduled)


@dataclass
class PrefectServer(Managed):
    """A Prefect server this process started, and may also be a client of."""

    def stop(self, timeout: float = 15.0) -> None:
        flush_prefect_clients()
        super().stop(timeout)


def flush_prefect_clients(timeout: float = 30.0) -> None:
    """Ship the logs and events this process's Prefect clients still hold, while the server is up.

    Otherwise Prefect drains them at interpreter exit to a server that is gone, retrying each for
    minutes: a benchmark that stopped its server sat ~5 minutes in `threading._shutdown`. Also
    before this process points itself at another server: the events worker is one per process,
    made for the API URL of its first event, and would go on sending there."""
    if "prefect" not in sys.modules:
        return
    from prefect.logging.handlers import APILogWorker

    # Prefect's queue services (the log and the events workers among them) share one registry of
    # instances, so one class's drain_all drains them all.
    APILogWorker.drain_all(timeout=timeout, at_exit=False)


async def not_online(pool: str, names: set[str], *, timeout: float) -> set[str]:
    """Wait until every worker in `names` has told the server it is online on work pool `pool`;
    those still not online after `timeout` seconds (empty: all are)."""
    import asyncio

    from prefect import get_client

    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            workers = await client.read_workers_for_work_pool(pool)
            missing = names - {w.name for w in workers if w.status and w.status.value == "ONLINE"}
            if not missing or time.monotonic() > deadline:
                return missing
            await asyncio.sleep(0.2)


def flow_run_pids(flow_run_id: str) -> list[int]:
    """The processes of this user running flow run `flow_run_id` (the engine a worker started
    carries it in its environment as PREFECT__FLOW_RUN_ID)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def kill_flow_run(flow_run_id: str) -> list[int]:
    """Kill -9 every process running flow run `flow_run_id`; their pids (none: not running here)."""
    pids = flow_run_pids(flow_run_id)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def spawn(
    name: str, argv: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None
) -> Managed:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("ab")
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Managed(name=name, process=process, log=log, env=env)


def prefect_env(home: Path, api_url: str, database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PREFECT_SERVER_ENV)
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_API_URL"] = api_url
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    return env


def start_prefect_server(
    home: Path,
    *,
    port: int | None = None,
    database_url: str | None = None,
    timeout: float = 90,
    settings: dict[str, str] | None = None,
) -> PrefectServer:
    """A real Prefect server on 127.0.0.1 (SQLite under `home`, or `database_url`); `settings`:
    Prefect settings that differ from ours (PREFECT_SERVER_ENV). A new SQLite database starts
    as a copy of a migrated one (devtools.prefect_db)."""
    port = port or free_port()
    if database_url is None:
        seed_sqlite(home)
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**prefect_env(home, api_url, database_url), **(settings or {})}
    spawned = spawn(
        "prefect-server",
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        log=home / "server.log",
    )
    server = PrefectServer(spawned.name, spawned.process, api_url, spawned.log, spawned.env)
    try:
        wait_http(f"{api_url}/health", timeout=timeout, process=server.process)
    except Exception:
        server.stop()
        raise
    return server


def engine_answers() -> bool:
    """Whether a Docker engine answers (at DOCKER_HOST, or the default socket)."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(version="auto", timeout=10)
        client.ping()
    except DockerException:
        return False
    client.close()
    return True


def start_dockerd(run_dir: Path, *, timeout: float = 60) -> Managed:
    """dockerd on the default socket, with no bridge and no iptables rules of its own."""
    argv = [
        "dockerd",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--host=unix:///var/run/docker.sock",
        f"--pidfile={run_dir / 'docker.pid'}",
    ]
    daemon = spawn("dockerd", argv, env=dict(os.environ), log=run_dir / "dockerd.log")
    deadline = time.monotonic() + timeout
    while not engine_answers():
        if daemon.process.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            tail = (run_dir / "dockerd.log").read_text()[-500:].strip().splitlines()[-1:]
            raise RuntimeError(f"dockerd did not start: {' '.join(tail)}")
        time.sleep(0.5)
    return daemon
