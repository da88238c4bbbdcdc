"""bench/soak.py at a small size: four stores, a short lease and a 5-second server restart.

A smoke run, not the measurement (the full size's figures are in docs/operations.md), but every
chaos step happens and every count must be at its target: the script exits 1 otherwise. It runs
against only what it started (decoy settings, as in test_benchmarks.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.browser]

SMALL = ["--stores", "4", "--contacts", "20", "--restart-seconds", "5", "--per-worker", "1",
         "--lease-seconds", "10"]  # fmt: skip
LINES = ("stores completed: 4/4", "crm flags wrong: 0", "duplicate writes: 0",
         "slots held after: 0", "rows left running: 0", "worst dead-run detection s: ",
         "vendor 429s beyond limit: 0", "secrets found: 0")  # fmt: skip


def test_the_soak_runs_at_a_small_size(tmp_path: Path) -> None:
    from tests.bench.test_benchmarks import _need_postgres, run_benchmark

    _need_postgres()
    out = run_benchmark("soak.py", SMALL, tmp_path, timeout=1500)
    printed = out.splitlines()
    for line in LINES:
        assert any(p.startswith(line) for p in printed), (line, out)
    detection = next(p for p in printed if p.startswith("worst dead-run detection s: "))
    assert float(detection.rsplit(" ", 1)[1]) > 0
