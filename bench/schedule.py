"""The scheduler's tick at scale: 1,000 stores over 24 time zones, a simulated week of 5-minute
ticks, on SQLite and on PostgreSQL.

The stores mix windows (many across midnight), always-open stores and recurring tasks; every run
completes the moment it starts (retries are tested in tests/multistore/test_ticking.py), so every
occurrence due for at least one tick must be started exactly once. The clock is simulated; only
the tick itself is timed (decide, claim), not the fake runs.

    python bench/schedule.py                     # 1,000 stores, 7 days, both databases
    python bench/schedule.py --stores 50 --days 1 --db sqlite   # a smoke run

Prints, per database, the lines a script reads:
    occurrences due: N
    started exactly once: N (100.0%)
    missed: 0
    started twice: 0
    tick cost per store: X ms
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from devtools.pgadmin import create_database, database_url, drop_database
from multistore.claims import COMPLETED, Claims
from multistore.db import dispose_engines, session_scope
from multistore.leases import Leases
from multistore.models import Store
from multistore.occurrences import occurrences
from multistore.registry import Registry
from multistore.ticking import tick

TICK = timedelta(minutes=5)
ZONES = [
    "UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Sao_Paulo",
    "America/St_Johns", "Europe/London", "Europe/Paris", "Europe/Helsinki", "Europe/Moscow",
    "Asia/Dubai", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Adelaide", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland",
    "Pacific/Chatham",
]  # fmt: skip
WINDOWS = ["22:00-06:00", "23:30-05:00", "01:00-04:00", "20:00-02:00", "02:00-03:30", None]
TASKS = [
    {"name": "feed", "cron": "0 */4 * * *", "jobs": ["homenet_feed"]},
    {"name": "dnc", "cron": "30 2 * * *", "jobs": ["dnc_compliance"]},
]
PRIORITIES = ["high", "medium", "low"]


def populate(url: str, count: int, seed: int = 9) -> None:
    rng = random.Random(seed)
    registry = Registry(url, from_env=False)
    for n in range(count):
        store_id = f"store-{n:04d}"
        registry.add(
            store_id,
            timezone=ZONES[n % len(ZONES)],
            window=rng.choice(WINDOWS),
            priority=rng.choice(PRIORITIES),
        )
        if n % 3 == 0:
            registry.add_task(store_id, **rng.choice(TASKS))


def simulate(url: str, days: float, begin: datetime) -> dict[str, float]:
    with session_scope(url) as session:  # added for the scheduler when the week begins
        session.exec(update(Store).values(scheduled_since=begin))
    registry = Registry(url, from_env=False)
    stores = registry.list()
    claims, leases = Claims(url), Leases(url)
    end = begin + timedelta(days=days)
    starts: Counter[tuple[str, str]] = Counter()
    missed: set[tuple[str, str]] = set()
    tick_seconds = 0.0
    ticks = 0
    now = begin
    while now < end:
        t0 = time.perf_counter()
        result = tick(stores, now, claims=claims, leases=leases, claimed_by="bench")
        tick_seconds += time.perf_counter() - t0
        ticks += 1
        missed.update(result.missed)
        for start in result.started:
            for key in start.keys:
                starts[(start.store.id, key)] += 1
            claims.finish(start.store.id, start.keys, status=COMPLETED, now=now)
        now += TICK
    due = set()
    for store in stores:
        for occ in occurrences(store, begin, end - TICK):
            if occ.due_from < begin or occ.due_until > end - TICK:
                continue  # straddles the simulation's edges
            spans = occ.open_spans or ((occ.due_from, occ.due_until),)
            if any(b - a >= TICK for a, b in spans):
                due.add((store.id, occ.key))
    return {
        "due": len(due),
        "once": sum(1 for pair in due if starts[pair] == 1),
        "missed": len(due & missed),
        "twice": sum(1 for n in starts.values() if n > 1),
        "ms_per_store": 1000 * tick_seconds / ticks / len(stores),
        "ticks": ticks,
    }


def report(label: str, figures: dict[str, float]) -> None:
    due = figures["due"]
    print(f"[{label}] {figures['ticks']} ticks")
    print(f"occurrences due: {due}")
    print(f"started exactly once: {figures['once']} ({100.0 * figures['once'] / max(due, 1):.1f}%)")
    print(f"missed: {figures['missed']}")
    print(f"started twice: {figures['twice']}")
    print(f"tick cost per store: {figures['ms_per_store']:.3f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    # A week that holds the EU's fall-back night and the US's a week later is not needed: the
    # one holding 2026-10-25 (EU) and the southern hemisphere's spring is enough to cross DST.
    begin = datetime(2026, 10, 21, 0, 2, 30, tzinfo=UTC)
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as work:
            url = f"sqlite:///{Path(work) / 'registry.db'}"
            populate(url, args.stores)
            report("sqlite", simulate(url, args.days, begin))
            dispose_engines()
    if args.db in ("postgres", "both"):
        name = create_database("multistore_bench_schedule")
        try:
            url = database_url(name)
            populate(url, args.stores)
            report("postgres", simulate(url, args.days, begin))
        finally:
            dispose_engines()
            drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
