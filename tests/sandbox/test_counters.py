"""The sliding window the sandbox's rate summary and the many-workers test both measure with."""

from __future__ import annotations

from sandbox.counters import most_in_window


def test_most_in_window_counts_a_half_open_window() -> None:
    times = [0.0, 0.5, 59.9, 60.0, 61.0, 120.0]
    assert most_in_window(times, 60) == 3  # 60.0 is outside [0, 60); 120.0 outside [60, 120)
    assert most_in_window(times, 1) == 2
    assert most_in_window(times, 1000) == len(times)
    assert most_in_window([], 60) == 0
