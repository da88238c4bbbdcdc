"""bench/soak.py at a small size: three stores, a short lease and a 2-second server restart.

A smoke run, not the measurement (the full size's figures are in docs/operations.md), but every
chaos step happens and every count must be at its target: the script exits 1 otherwise. It runs
against only what it started (decoy settings, as in test_benchmarks.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.browser]

# Two runs at once per worker and three stores: they run in one wave (worker b takes at most two,
# so the worker killed, a, surely has one mid-store) and the killed store's retry is the only
# second wave; one per worker ran four stores in three. The browser kill comes right after the
# worker kill, while the two other stores (started with it) have their CRM pages ahead of them
# (5, 4 and 7 flags to change at 20 contacts: every store opens pages). The server is down 2 s
# (it still stops and starts on the same port and database; its start is the outage's bulk).
# The killed store's retry starts 1 s after its death is known, not 5: the retry is the run's
# critical path, and the wait between attempts proves nothing here.
SMALL = ["--stores", "3", "--contacts", "20", "--restart-seconds", "2", "--per-worker", "2",
         "--lease-seconds", "10", "--backoff-seconds", "1"]  # fmt: skip
LINES = ("stores completed: 3/3", "crm flags wrong: 0", "duplicate writes: 0",
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
