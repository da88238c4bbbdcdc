"""Every benchmark, at a small size, runs on a fresh checkout against only what it started.

A smoke run, not a measurement (the figures at full size are the README's): a broken benchmark
fails here instead of on the next person who measures. Each run gets a data directory and a
registry URL that point nowhere useful; a benchmark that used them instead of its own would
leave files behind or fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (script, small arguments, a line the script always prints, needs PostgreSQL); nearest.py,
# heartbeats.py and forecast.py have their own (test_network_benches.py).
SMOKE = [
    ("allocation.py", ["--products", "500", "--loop-sample", "100", "--repeat", "1"],
     "allocation ratio vs loop: ", False),
    ("normalise.py", ["--numbers", "2000", "--loop-sample", "200", "--repeat", "1"],
     "ratio vectorised / loop:", False),
    ("sandbox_service.py", ["--stores", "5", "--contacts", "1000", "--pages", "5",
                            "--seconds", "1"], "accepted / allowed", False),
    ("dnc_pool.py", ["--stores", "2", "--numbers", "10", "--rate", "600", "--burst", "20"],
     "achieved rate / R: ", True),
    ("vdp_pool.py", ["--dealers", "2", "--feed-rows", "3", "--latency-ms", "0",
                     "--stores-at-once", "2", "--pool", "2"], "utilisation (busy page-s", True),
    ("fanout.py", ["--stores", "3", "--concurrency", "2"], "ratio run_stores/bare:", True),
    ("schedule.py", ["--stores", "40", "--days", "1", "--db", "both"], "started twice: 0", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "args", "line", "pg"),
    [
        pytest.param(s, a, line, pg, marks=[pytest.mark.postgres] if pg else [], id=s)
        for s, a, line, pg in SMOKE
    ],
)
def test_benchmark_runs_at_a_small_size(
    script: str, args: list[str], line: str, pg: bool, tmp_path: Path
) -> None:
    if pg:
        _need_postgres()
    assert line in run_benchmark(script, args, tmp_path)


def run_benchmark(script: str, args: list[str], tmp_path: Path, *, timeout: float = 420) -> str:
    """`bench/<script> <args>` under decoy settings; its stdout, once it exited 0 having left the
    decoys alone."""
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
            # Workers the benchmark starts ask for runs every second: a smoke run has nothing to
            # learn from waiting for the default 10-second poll (the measurement keeps it).
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert not decoy.exists(), sorted(str(p) for p in decoy.rglob("*"))
    return done.stdout


def _need_postgres() -> None:
    from tests.fixtures.postgres import create_pg_database, drop_pg_database

    drop_pg_database(create_pg_database("bench_smoke_probe"))
