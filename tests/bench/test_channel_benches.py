"""The channel benchmarks run at smoke size and print the lines a script reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import allocation

ROOT = Path(__file__).resolve().parents[2]


def test_allocation_bench_prints_its_lines(capsys: pytest.CaptureFixture[str]) -> None:
    allocation.main(["--products", "300", "--loop-sample", "50", "--repeat", "1"])
    out = capsys.readouterr().out
    assert re.search(r"^allocation seconds: \d+\.\d+$", out, re.M)
    assert re.search(r"^allocation ratio vs loop: \d+\.\dx$", out, re.M)


def test_webhooks_bench_stores_every_delivery_once() -> None:
    # Its own process: the bench points the registry at a temporary directory of its own.
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhooks.py"), "--phases", "1200x2"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "webhooks sent: 40\n" in done.stdout
    assert "stored exactly once: 40\n" in done.stdout
    assert "lost: 0\n" in done.stdout


def test_channel_sync_bench_meets_the_lower_bound_without_429s() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "channel_sync.py"), "--products", "300"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    ratio = float(re.search(r"^calls / lower bound: ([\d.]+)$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert ratio <= 1.05
    assert "429s: 0\n" in done.stdout
    assert "second sync writes: 0\n" in done.stdout
