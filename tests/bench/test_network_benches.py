"""The network benchmarks run at a small size and print the lines scripts read."""

from __future__ import annotations

import re

import pytest

from bench import forecast, heartbeats, nearest


def test_nearest_bench_prints_its_rate(capsys: pytest.CaptureFixture[str]) -> None:
    rate = nearest.main(["--stores", "300", "--lookups", "300"])
    out = capsys.readouterr().out
    assert re.search(r"^nearest lookups per second: \d+$", out, re.M)
    assert rate > 0


def test_heartbeats_bench_detects_every_down_node(capsys: pytest.CaptureFixture[str]) -> None:
    _ratio, worst = heartbeats.main(
        ["--nodes", "40", "--passes", "3", "--slow-ms", "300", "--timeout", "1"]
    )
    out = capsys.readouterr().out
    assert re.search(r"^heartbeat pass / cadence: [\d.]+$", out, re.M)
    assert re.search(r"^worst detection delay s: [\d.]+$", out, re.M)
    assert "missed 0, wrongly marked 0" in out
    assert worst > 60  # two silent minutes since the last answer, less the minute it was down


def test_forecast_bench_prints_the_median_mase(capsys: pytest.CaptureFixture[str]) -> None:
    median = forecast.main(["--series", "3", "--days", "120"])
    out = capsys.readouterr().out
    assert re.search(r"^median MASE: [\d.]+ \(seasonal naive 1\.0\)$", out, re.M)
    assert 0 < median < 1.5
