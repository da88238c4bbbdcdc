"""The sliding window the sandbox's rate summary and the many-workers test both measure with, and
the page-seconds a browser pool's utilisation is measured with (bench/scale.py)."""

from __future__ import annotations

from sandbox.counters import Counters, most_in_window


def test_most_in_window_counts_a_half_open_window() -> None:
    times = [0.0, 0.5, 59.9, 60.0, 61.0, 120.0]
    assert most_in_window(times, 60) == 3  # 60.0 is outside [0, 60); 120.0 outside [60, 120)
    assert most_in_window(times, 1) == 2
    assert most_in_window(times, 1000) == len(times)
    assert most_in_window([], 60) == 0


class MovedClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_open_pages_are_integrated_into_page_seconds() -> None:
    clock = MovedClock()
    counters = Counters(clock=clock)
    clock.now += 1  # nothing open: idle time, no page-seconds
    counters.page_opened("crm_ui", "s1", "tab-a")
    clock.now += 2
    counters.page_opened("vdp", "s2", "tab-b")
    counters.page_opened("crm_ui", "s1", "tab-a")  # the tab's next page: still one page
    clock.now += 3
    counters.page_closed("crm_ui", "s1", "tab-a")
    counters.page_closed("crm_ui", "s1", "tab-a")
    clock.now += 4

    sessions = counters.snapshot()["sessions"]  # tab-b still open: counted up to now
    assert sessions["busy_seconds"] == 1 * 2 + 2 * 3 + 1 * 4
    assert sessions["seconds_at"] == {"0": 1, "1": 2 + 4, "2": 3}
    assert sessions["seconds"] == 10
    assert sessions["stores"]["s1"]["busy_seconds"] == 5
    assert sessions["stores"]["s2"]["busy_seconds"] == 7
    assert sessions["vendors"]["vdp"]["busy_seconds"] == 7

    clock.now += 5
    counters.page_closed("vdp", "s2", "tab-b")
    clock.now += 6
    sessions = counters.snapshot()["sessions"]
    assert sessions["busy_seconds"] == 12 + 5
    assert sessions["seconds_at"] == {"0": 1 + 6, "1": 6 + 5, "2": 3}


def test_a_reset_starts_the_integral_again_and_ignores_pages_opened_before() -> None:
    clock = MovedClock()
    counters = Counters(clock=clock)
    counters.page_opened("crm_ui", "s1", "tab-a")
    clock.now += 5
    counters.reset()
    clock.now += 2
    counters.page_closed("crm_ui", "s1", "tab-a")  # opened before the reset
    counters.page_opened("crm_ui", "s1", "tab-c")
    clock.now += 3
    sessions = counters.snapshot()["sessions"]
    assert (sessions["now"], sessions["busy_seconds"], sessions["seconds"]) == (1, 3, 5)
