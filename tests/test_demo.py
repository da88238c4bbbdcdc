"""`make demo` end to end, with --once: everything starts, one run finishes, everything stops.

Run twice on the same data directory (the second finds the Prefect database of the first and a
port taken by something else), on free ports so that it never meets a demo someone left running.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.demo import demo_database_name
from devtools.local import free_port
from devtools.pgadmin import PostgresUnavailable, drop_database
from devtools.prefect_db import ensure_prefect_database

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]
STORE = "cascade-outdoor-supply"  # always open: the run has something to do at any hour


def _demo(data: Path, prefect_port: int, sandbox_port: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MULTISTORE_"))}
    env["MULTISTORE_DATA_DIR"] = str(data)
    env["MULTISTORE_DEMO_ONCE"] = "1"
    return subprocess.run(
        [
            *(sys.executable, "-m", "devtools.demo", "--stores", STORE),
            *("--prefect-port", str(prefect_port), "--sandbox-port", str(sandbox_port)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """The demo's data directory; the PostgreSQL database of its Prefect server goes after."""
    data = tmp_path / "data"
    try:
        ensure_prefect_database(demo_database_name(data))  # what the demo does first, checked here
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield data
    drop_database(demo_database_name(data))


def test_demo_runs_twice_and_stops_what_it_started(data: Path) -> None:
    prefect_port, sandbox_port = free_port(), free_port()

    first = _demo(data, prefect_port, sandbox_port)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "run-stores/adhoc ended COMPLETED" in first.stdout
    # Its Prefect server on PostgreSQL: no request answered 503 for a busy database.
    assert f"(PostgreSQL database {demo_database_name(data)})" in first.stdout
    assert "Prefect server 503s (database busy) during this demo: 0" in first.stdout
    assert f"Prefect UI: http://127.0.0.1:{prefect_port}" in first.stdout
    report = json.loads((data / "reports" / "latest.json").read_text())
    assert [(s["store_id"], s["status"]) for s in report["stores"]] == [(STORE, "completed")]
    assert not _listening(prefect_port) and not _listening(sandbox_port)

    # Again, with the sandbox's port taken by something that is not a sandbox.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", sandbox_port))
        squatter.listen()
        second = _demo(data, prefect_port, sandbox_port)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"port {sandbox_port} is taken by something else" in second.stdout
    assert "example stores from stores.example.yaml: 0 added" in second.stdout
    # --once paused the schedules before its worker started (none of their runs competes with
    # the demo's or holds the worker's stop); the second deploy made them active again.
    paused = re.findall(r"--once: (\d+) scheduled deployments paused", first.stdout + second.stdout)
    assert len(paused) == 2 and paused[0] == paused[1] != "0", paused
    assert "run-stores/adhoc ended COMPLETED" in second.stdout
    again = json.loads((data / "reports" / "latest.json").read_text())
    assert again["flow_run_id"] != report["flow_run_id"]
    assert not _listening(prefect_port)
