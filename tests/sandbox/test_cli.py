"""`multistore sandbox` serves in its own process; bad options fail in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from devtools.local import free_port, spawn, wait_http

MULTISTORE = str(Path(sys.executable).with_name("multistore"))


def test_serves_with_the_given_seed_stores_and_faults(tmp_path: Path):
    faults = tmp_path / "faults.yaml"
    faults.write_text("- {vendor: dnc, outage: true}\n")
    port = free_port()
    argv = [
        MULTISTORE,
        "sandbox",
        "--port",
        str(port),
        "--stores",
        "3",
        "--seed",
        "5",
        "--faults",
        str(faults),
    ]
    server = spawn("sandbox", argv, env=dict(os.environ), log=tmp_path / "log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/admin/health", timeout=30, process=server.process)
        assert httpx.get(f"{url}/admin/health").json()["seed"] == 5
        assert httpx.get(f"{url}/admin/stores").json() == ["store-0001", "store-0002", "store-0003"]
        scrub = httpx.post(
            f"{url}/dnc/scrub", json={"numbers": []}, headers={"X-API-Key": "sandbox-dnc-key"}
        )
        assert scrub.status_code == 503
    finally:
        server.stop()
    assert server.process.returncode is not None


def test_a_bad_faults_file_is_one_line_and_exit_2(tmp_path: Path):
    faults = tmp_path / "faults.yaml"
    faults.write_text("- {vendor: dnc, error_rate: 7}\n")
    result = subprocess.run(
        [MULTISTORE, "sandbox", "--port", str(free_port()), "--faults", str(faults)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "faults[0].error_rate" in result.stderr
