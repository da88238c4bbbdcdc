"""The rate pools' pace: a burst at once, then one call per interval, shared by every process."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from multistore.clock import ManualClock
from multistore.pacer import RatePacer
from sandbox.counters import most_in_window


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


def test_a_burst_goes_at_once_then_one_call_per_interval(tmp_path: Path) -> None:
    pacer = RatePacer(_sqlite(tmp_path), clock=ManualClock())
    waits = [pacer.reserve("rate:api:dnc", 120, 5) for _ in range(8)]
    # 120/min is one call every 0.5 s; the first five are the burst.
    assert waits == pytest.approx([0, 0, 0, 0, 0, 0.5, 1.0, 1.5])


def test_an_idle_pool_earns_its_burst_back_and_no_more(tmp_path: Path) -> None:
    clock = ManualClock()
    pacer = RatePacer(_sqlite(tmp_path), clock=clock)
    for _ in range(5):
        pacer.reserve("p", 60, 3)
    clock.advance(60)  # a long pause: the credit is the burst, not a minute's worth of calls
    assert [pacer.reserve("p", 60, 3) for _ in range(5)] == pytest.approx([0, 0, 0, 1, 2])


def test_pools_are_paced_apart(tmp_path: Path) -> None:
    pacer = RatePacer(_sqlite(tmp_path), clock=ManualClock())
    assert pacer.reserve("a", 60, 1) == 0
    assert pacer.reserve("b", 60, 1) == 0
    assert pacer.reserve("a", 60, 1) == pytest.approx(1.0)


def test_two_processes_share_one_pace(tmp_path: Path) -> None:
    # Two pacers (two workers) on one registry, one clock: the calls interleave on one pace.
    clock = ManualClock()
    first, second = (RatePacer(_sqlite(tmp_path), clock=clock) for _ in range(2))
    waits = [p.reserve("rate:api:dnc", 60, 1) for p in (first, second, first, second)]
    assert waits == pytest.approx([0, 1, 2, 3])


def test_no_window_sees_more_than_the_burst_and_the_rate(tmp_path: Path) -> None:
    """Callers that arrive at random and wait as told: what they send, in any window of w
    seconds, is at most burst + w × rate; with demand all along, the pace is the rate."""
    clock = ManualClock()
    pacer = RatePacer(_sqlite(tmp_path), clock=clock)
    rng = random.Random(7)
    start = clock.now().timestamp()
    sent = []
    for _ in range(400):
        clock.advance(rng.choice([0, 0, 0.1, 0.3, 2.0]))
        delay = pacer.reserve("p", 120, 4)
        sent.append(clock.now().timestamp() - start + delay)
    sent.sort()
    for width in (0.5, 1, 5, 10, 60):
        assert most_in_window(sent, width) <= 4 + width * 2, width
    busy = sent[-1] - sent[0]
    assert len(sent) - 4 <= busy * 2 + 1


def test_concurrent_callers_never_take_the_same_instant(tmp_path: Path) -> None:
    pacer = RatePacer(_sqlite(tmp_path), clock=ManualClock())
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: pacer.reserve("p", 60, 1), range(40)))
    assert sorted(waits) == pytest.approx([float(n) for n in range(40)])


@pytest.mark.postgres
def test_the_pace_holds_on_postgresql_across_engines() -> None:
    from multistore.db import dispose_engines
    from tests.fixtures.postgres import create_pg_database, drop_pg_database, pg_url

    name = create_pg_database("pacer")
    try:
        clock = ManualClock()
        pacers = [RatePacer(pg_url(name), clock=clock) for _ in range(2)]
        with ThreadPoolExecutor(8) as pool:
            waits = list(pool.map(lambda n: pacers[n % 2].reserve("p", 60, 2), range(20)))
        assert sorted(waits) == pytest.approx([0.0, 0.0] + [float(n) for n in range(1, 19)])
    finally:
        dispose_engines()
        drop_pg_database(name)
