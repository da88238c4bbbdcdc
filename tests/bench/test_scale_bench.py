"""bench/scale.py at a small size, in a module of its own: the longest smoke run, so a test process
can run it beside the other benchmarks' (tests/conftest.py schedules the slowest modules first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.test_benchmarks import _need_postgres, run_benchmark


@pytest.mark.postgres
@pytest.mark.prefect
@pytest.mark.browser
@pytest.mark.timeout(1200)
def test_scale_runs_with_one_and_two_process_workers(tmp_path: Path) -> None:
    """bench/scale.py's curve at a small size, correctness checked at each point. Its Docker
    point is left out here on purpose (`--docker 0`), not skipped: tests/test_docker.py runs
    stores on the Docker pool in CI with the same image, deployment and worker. A worker takes
    all three stores at once: each point is one wave of store runs, not two."""
    _need_postgres()
    args = ["--stores", "3", "--process", "1,2", "--docker", "0", "--pool", "2"]
    out = run_benchmark(
        "scale.py", [*args, "--per-worker", "3", "--contacts", "8"], tmp_path, timeout=900
    )
    points = [line.split("  ") for line in out.splitlines() if line.startswith("workers: ")]
    assert [p[0] for p in points] == ["workers: 1", "workers: 2"], out
    assert [p[1].split(": ")[0] for p in points] == ["stores/min"] * 2, out
    assert out.count("3/3 stores completed, CRM = ground truth for 3/3") == 2, out
