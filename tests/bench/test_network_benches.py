"""The network benchmarks run at a small size and print the lines scripts read."""

from __future__ import annotations

import re

import pytest

from bench import nearest


def test_nearest_bench_prints_its_rate(capsys: pytest.CaptureFixture[str]) -> None:
    rate = nearest.main(["--stores", "300", "--lookups", "300"])
    out = capsys.readouterr().out
    assert re.search(r"^nearest lookups per second: \d+$", out, re.M)
    assert rate > 0
