"""bench/soak.py at a small size: four stores, a short lease and a 5-second server restart.

A smoke run, not the measurement (the full size's figures are in docs/operations.md), but every
chaos step happens and every count must be at its target: the script exits 1 otherwise. It runs
against only what it started (decoy settings, as in test_benchmarks.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.browser]

SMALL = ["--stores", "4", "--contacts", "20", "--restart-seconds", "5", "--per-worker", "1",
         "--lease-seconds", "10"]  # fmt: skip
LINES = ("stores completed: 4/4", "crm flags wrong: 0", "duplicate writes: 0",
         "slots held after: 0", "rows left running: 0", "worst dead-run detection s: ",
         "vendor 429s beyond limit: 0", "secrets found: 0")  # fmt: skip


def test_the_soak_runs_at_a_small_size(tmp_path: Path) -> None:
    from tests.bench.test_benchmarks import _need_postgres

    _need_postgres()
    decoy = tmp_path / "not-the-benchmarks"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_API", "MULTISTORE_"))
    }
    env.update(
        {
            "MULTISTORE_DATA_DIR": str(decoy / "data"),
            "MULTISTORE_DATABASE_URL": f"sqlite:///{decoy / 'registry.db'}",
            "MULTISTORE_SANDBOX_URL": "http://127.0.0.1:9",  # nothing listens: must not be used
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
        }
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), *SMALL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    printed = done.stdout.splitlines()
    for line in LINES:
        assert any(p.startswith(line) for p in printed), (line, done.stdout)
    detection = next(p for p in printed if p.startswith("worst dead-run detection s: "))
    assert float(detection.rsplit(" ", 1)[1]) > 0
    assert not decoy.exists(), sorted(str(p) for p in decoy.rglob("*"))
