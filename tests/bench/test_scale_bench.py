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
    stores on the Docker pool in CI with the same image, deployment and worker.

    Two stores through a browser pool of one: more stores at once than the pool has slots, so
    "pages open at most 1 (pool 1)" still proves the pool binds, with a flow-run process and a
    browser fewer per point than three stores through two slots. A worker takes both stores at
    once (--per-worker 2): each point is one wave of store runs. 50 ms per CRM page instead of
    the measurement's 200: the latency path is exercised; the pages need not take a vendor's
    time, as nothing is measured here."""
    _need_postgres()
    args = ["--stores", "2", "--process", "1,2", "--docker", "0", "--pool", "1"]
    args += ["--per-worker", "2", "--contacts", "8", "--latency-ms", "50"]
    out = run_benchmark("scale.py", args, tmp_path, timeout=900)
    points = [line.split("  ") for line in out.splitlines() if line.startswith("workers: ")]
    assert [p[0] for p in points] == ["workers: 1", "workers: 2"], out
    assert [p[1].split(": ")[0] for p in points] == ["stores/min"] * 2, out
    assert out.count("2/2 stores completed, CRM = ground truth for 2/2") == 2, out
    assert out.count("pages open at most 1 (pool 1)") == 2, out
