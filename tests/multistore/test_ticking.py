"""The scheduler's tick with a fake clock: every occurrence started once, none twice, by priority.

A property test over random stores (zones with and without DST, windows across midnight, recurring
tasks) ticking every 5 minutes for simulated days around DST nights; then the claims, the retries,
the missed occurrences, the global bound and the leases, one behaviour each.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update

from multistore.claims import COMPLETED, FAILED, MISSED, RETRY, Claims
from multistore.config import Priority
from multistore.db import get_engine, session_scope
from multistore.leases import Leases
from multistore.models import Store
from multistore.occurrences import occurrences
from multistore.registry import Registry
from multistore.ticking import ALREADY_RUNNING, QUARANTINED, SLOTS_BUSY, tick

TICK = timedelta(minutes=5)
ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Paris",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
]
# Simulations start a few days before DST nights: US, EU and southern-hemisphere transitions.
STARTS = [
    datetime(2026, 3, 5, tzinfo=UTC),
    datetime(2026, 3, 26, tzinfo=UTC),
    datetime(2026, 4, 2, tzinfo=UTC),
    datetime(2026, 10, 22, tzinfo=UTC),
    datetime(2026, 10, 29, tzinfo=UTC),
]
CRONS = ["0 */4 * * *", "30 2 * * *", "15 1 * * 0", "*/30 * * * *", "0 0 * * 1-5", "45 23 * * *"]
TASK_JOBS = [["homenet_feed"], ["dnc_compliance"], ["homenet_feed", "vdp_scrape"]]
_urls = itertools.count()

hhmm = st.builds(lambda h, q: f"{h:02d}:{q * 15:02d}", st.integers(0, 23), st.integers(0, 3))


@st.composite
def store_specs(draw: st.DrawFn) -> dict:
    window = None
    if draw(st.booleans()) or draw(st.booleans()):
        start, end = draw(hhmm), draw(hhmm)
        window = None if start == end else f"{start}-{end}"
    tasks = []
    for n in range(draw(st.integers(0, 2))):
        cron = draw(st.sampled_from(CRONS))
        tasks.append(
            {
                "name": f"task{n}",
                "cron": cron,
                "jobs": draw(st.sampled_from(TASK_JOBS)),
                "catch_up_minutes": draw(st.sampled_from([5, 10, 30])),
            }
        )
    if len({(t["cron"], tuple(t["jobs"])) for t in tasks}) < len(tasks):
        tasks = tasks[:1]
    return {
        "timezone": draw(st.sampled_from(ZONES)),
        "window": window,
        "priority": draw(st.sampled_from(list(Priority))),
        "tasks": tasks,
    }


def _registry(tmp_path: Path) -> str:
    """A new SQLite registry without fsync: thousands of simulated ticks need no durability."""
    url = f"sqlite:///{tmp_path / f'tick-{next(_urls)}.db'}"
    engine = get_engine(url)
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    engine.dispose()  # pooled connections reconnect with the pragma
    return url


def _complete(url: str, starts, now: datetime) -> None:
    """A fake store run that takes no time: lease, claim outcome, release."""
    claims, leases = Claims(url), Leases(url)
    for start in starts:
        holder = f"run-{start.store.id}-{now.timestamp():.0f}"
        assert leases.acquire(start.store.id, holder, now=now) is None
        claims.set_flow_run(start.store.id, start.keys, holder)
        claims.finish(start.store.id, start.keys, status=COMPLETED, now=now)
        leases.release(start.store.id, holder)


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(store_specs(), min_size=1, max_size=5),
    begin=st.sampled_from(STARTS),
    phase=st.integers(0, 299),
)
def test_every_occurrence_due_a_tick_long_starts_exactly_once_in_priority_order(
    tmp_path: Path, specs: list[dict], begin: datetime, phase: int
) -> None:
    url = _registry(tmp_path)
    registry = Registry(url, from_env=False)
    for n, spec in enumerate(specs):
        registry.add(
            f"s{n}", timezone=spec["timezone"], window=spec["window"], priority=spec["priority"]
        )
        for task in spec["tasks"]:
            registry.add_task(f"s{n}", **task)
    first = begin + timedelta(seconds=phase)
    _scheduled_since(url, first)
    stores = registry.list()
    claims, leases = Claims(url), Leases(url)
    end = begin + timedelta(days=7)
    starts: Counter[tuple[str, str]] = Counter()
    missed: set[tuple[str, str]] = set()
    now = first
    while now < end:
        result = tick(stores, now, claims=claims, leases=leases, claimed_by="tick")
        ranks = [s.priority.rank for s in result.started]
        assert ranks == sorted(ranks), f"tick at {now}: started out of priority order"
        for start in result.started:
            for key in start.keys:
                starts[(start.store.id, key)] += 1
        missed.update(result.missed)
        _complete(url, result.started, now)
        now += TICK

    assert max(starts.values(), default=1) == 1, "an occurrence started twice"
    for store in stores:
        for occ in occurrences(store, first, end - TICK):
            if occ.due_from < first or occ.due_until > end - TICK:
                continue  # straddles the simulation's edges
            spans = occ.open_spans or ((occ.due_from, occ.due_until),)
            long_enough = any(b - a >= TICK for a, b in spans)
            pair = (store.id, occ.key)
            if long_enough:
                assert starts[pair] == 1, f"{pair} due {occ.due_from}–{occ.due_until} not started"
                assert pair not in missed
            else:
                assert starts[pair] + (pair in missed) == 1, f"{pair}: neither started nor missed"


def _scheduled_since(url: str, when: datetime) -> None:
    """The stores were added (for the scheduler) at `when`, the simulation's start."""
    with session_scope(url) as session:
        session.exec(update(Store).values(scheduled_since=when))


def _store(registry: Registry, store_id: str, **fields) -> Store:
    registry.add(store_id, **fields)
    _scheduled_since(registry.url, datetime(2026, 1, 1, tzinfo=UTC))
    return registry.get(store_id)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return _registry(tmp_path)


def test_two_ticks_racing_start_each_occurrence_once(url: str) -> None:
    registry = Registry(url, from_env=False)
    stores = [_store(registry, f"s{n}") for n in range(5)]
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    a = tick(stores, now, claims=Claims(url), leases=Leases(url), claimed_by="a")
    b = tick(stores, now, claims=Claims(url), leases=Leases(url), claimed_by="b")
    assert len(a.started) == 5
    assert b.started == []


def test_more_due_stores_than_slots_start_high_before_medium_before_low_across_ticks(
    url: str,
) -> None:
    registry = Registry(url, from_env=False)
    priorities = ["low", "high", "medium", "low", "high", "medium"]
    stores = [_store(registry, f"s{n}", priority=p) for n, p in enumerate(priorities)]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    order = []
    for _ in range(3):
        result = tick(stores, now, claims=claims, leases=leases, max_concurrent_stores=2)
        assert len(result.started) == 2
        assert {w.reason for w in result.waiting} <= {
            "all 2 store slots busy; a later tick starts it"
        }
        order += [s.store.id for s in result.started]
        _complete(url, result.started, now)
        now += TICK
    assert [Priority.parse(registry.get(s).priority).rank for s in order] == [0, 0, 1, 1, 2, 2]


def test_a_running_store_holds_a_slot_and_waits_with_the_one_line_reason(url: str) -> None:
    registry = Registry(url, from_env=False)
    stores = [_store(registry, "busy"), _store(registry, "free")]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert leases.acquire("busy", "flow-run-1", now=now) is None
    result = tick(stores, now, claims=claims, leases=leases, max_concurrent_stores=2)
    assert [s.store.id for s in result.started] == ["free"]
    (waiting,) = result.waiting
    assert waiting.reason == (
        "store busy is already running since 2026-06-01T12:00:00+00:00 in flow run flow-run-1"
    )


def test_a_due_occurrence_that_does_not_start_is_announced_skipped_once_per_reason(
    url: str,
) -> None:
    registry = Registry(url, from_env=False)
    stores = [_store(registry, "busy"), _store(registry, "sick"), _store(registry, "free")]
    registry.record_outcome("sick", False, "feed down", threshold=1)
    stores = [registry.get(s.id) for s in stores]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert leases.acquire("busy", "flow-run-1", now=now) is None
    first = tick(stores, now, claims=claims, leases=leases, max_concurrent_stores=4)
    assert [s.store.id for s in first.started] == ["free"]
    assert sorted((w.occurrence.store_id, w.kind) for w in first.skipped) == [
        ("busy", ALREADY_RUNNING),
        ("sick", QUARANTINED),
    ]
    assert "feed down" in next(w.reason for w in first.skipped if w.kind == QUARANTINED)
    # The next ticks see the same occurrences not starting, for the same reasons: no new event.
    for n in range(1, 4):
        later = now + n * TICK
        assert leases.renew("busy", "flow-run-1", now=later)
        again = tick(stores, later, claims=claims, leases=leases, max_concurrent_stores=4)
        assert [w.occurrence.store_id for w in again.waiting] == ["busy"]
        assert again.skipped == []
    # A new reason for the same occurrence is news: the store now waits for a free slot.
    leases.release("busy", "flow-run-1")
    assert leases.acquire("other", "flow-run-2", now=now + 4 * TICK) is None
    last = tick(stores, now + 4 * TICK, claims=claims, leases=leases, max_concurrent_stores=1)
    assert [(w.occurrence.store_id, w.kind) for w in last.skipped] == [("busy", SLOTS_BUSY)]


def test_a_failed_attempt_is_retried_after_its_backoff_while_due_then_missed(url: str) -> None:
    registry = Registry(url, from_env=False)
    stores = [_store(registry, "w", window="12:00-13:00")]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    (start,) = tick(stores, now, claims=claims, leases=leases).started
    backoff = timedelta(minutes=10)
    assert claims.finish("w", start.keys, status=FAILED, now=now, backoff=backoff) == [RETRY]
    assert tick(stores, now + TICK, claims=claims, leases=leases).started == []
    (again,) = tick(stores, now + 2 * TICK, claims=claims, leases=leases).started
    assert again.attempt == 2 and again.keys == start.keys
    # The second failure's backoff (20 min) fits before 13:00: retry; the third does not fit.
    later = now + 2 * TICK
    assert claims.finish("w", again.keys, status=FAILED, now=later, backoff=backoff) == [RETRY]
    result = tick(stores, datetime(2026, 6, 1, 13, 0, tzinfo=UTC), claims=claims, leases=leases)
    assert result.missed == [("w", start.keys[0])]


def test_an_occurrence_never_claimed_while_due_is_reported_missed_once(url: str) -> None:
    registry = Registry(url, from_env=False)
    stores = [_store(registry, "w", window="12:00-13:00")]
    claims, leases = Claims(url), Leases(url)
    after = datetime(2026, 6, 1, 13, 5, tzinfo=UTC)  # the scheduler was down all window long
    assert tick(stores, after, claims=claims, leases=leases).missed == [("w", "window:2026-06-01")]
    assert tick(stores, after + TICK, claims=claims, leases=leases).missed == []
    assert claims.history("w")[0].status == MISSED


def test_a_dead_run_is_closed_as_crashed_and_its_occurrence_retried_by_a_later_tick(
    url: str,
) -> None:
    registry = Registry(url, from_env=False)
    stores = [_store(registry, "w", window="12:00-14:00")]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    (start,) = tick(stores, now, claims=claims, leases=leases).started
    # The store run takes its lease and its row, then its worker is killed (no renewal).
    assert leases.acquire("w", "dead-run", now=now) is None
    claims.set_flow_run("w", start.keys, "dead-run")
    row = registry.start_run("w", "dead-run")
    leases.attach_run("w", "dead-run", row)
    assert tick(stores, now + timedelta(seconds=60), claims=claims, leases=leases).crashed == []
    later = now + timedelta(seconds=95)  # past the 90 s lease
    result = tick(stores, later, claims=claims, leases=leases, backoff=timedelta(0))
    assert [c.holder for c in result.crashed] == ["dead-run"]
    (run,) = registry.history("w")
    assert run.status == "crashed" and "lease expired" in run.error
    assert [s.keys for s in result.started] == [start.keys]  # retried at once (no backoff)
    assert result.started[0].attempt == 2


def test_a_second_start_of_a_running_store_is_refused_with_one_line(url: str) -> None:
    Registry(url, from_env=False).add("s")
    leases = Leases(url)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert leases.acquire("s", "first", now=now) is None
    held = leases.acquire("s", "second", now=now + timedelta(seconds=30))
    assert held.line() == (
        "store s is already running since 2026-06-01T12:00:00+00:00 in flow run first"
    )
    assert leases.renew("s", "first", now=now + timedelta(seconds=60))
    assert leases.acquire("s", "second", now=now + timedelta(seconds=120)).holder == "first"


def test_the_lease_time_to_live_is_the_holders_setting_and_renewal_a_third_of_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multistore.settings import reset_settings

    Registry(url, from_env=False).add("s")
    assert Leases(url).ttl == 90 and Leases(url).renew_seconds == 30  # the documented default
    monkeypatch.setenv("MULTISTORE_STORE_LEASE_SECONDS", "6")
    reset_settings()
    short = Leases(url)
    assert short.renew_seconds == 2
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert short.acquire("s", "killed", now=now) is None
    # Another process with the default setting sees the holder's short expiry.
    assert Leases(url, ttl=90).held("s", now=now + timedelta(seconds=5)) is not None
    assert Leases(url, ttl=90).held("s", now=now + timedelta(seconds=6)) is None
    (closed,) = Leases(url, ttl=90).close_expired(now=now + timedelta(seconds=6))
    assert closed.holder == "killed"


def test_a_claim_whose_run_never_ran_the_store_is_settled_by_its_runs_state(url: str) -> None:
    from multistore.ticking import NEVER_CREATED_AFTER, settle, unstarted

    registry = Registry(url, from_env=False)
    names = ["crashed", "late", "queued", "running", "leased", "uncreated", "gone"]
    stores = [_store(registry, name, window="12:00-14:00") for name in names]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    starts = {s.store.id: s for s in tick(stores, now, claims=claims, leases=leases).started}
    for name in names:
        if name != "uncreated":
            claims.set_flow_run(name, starts[name].keys, f"run-{name}")
    assert leases.acquire("leased", "run-leased", now=now) is None  # it runs: not ours to settle
    states = {
        "run-crashed": "CRASHED",  # its worker could not start it
        "run-late": "SCHEDULED",
        "run-queued": "PENDING",
        "run-running": "RUNNING",  # about to take its lease
        "run-leased": "RUNNING",
    }

    def settled_at(when: datetime) -> dict[str, tuple[str, bool]]:
        assert leases.renew("leased", "run-leased", now=when)  # it lives
        pending = unstarted(claims, leases, when)
        assert "leased" not in {c.store_id for c in pending}
        done = settle(claims, pending, states, when, backoff=timedelta(0))
        return {d.store_id: (d.status, d.cancel) for d in done}

    # While due: the crashed run is a failed attempt (retried), the missing one too; the ones
    # waiting for a worker or running are left; a run not created yet gets its start's grace.
    assert settled_at(now) == {"crashed": ("retry", False), "gone": ("retry", False)}
    later = now + NEVER_CREATED_AFTER
    assert settled_at(later) == {"uncreated": ("retry", False)}
    # Once the occurrence stopped being due, a run still waiting for a worker never will serve
    # it: missed, and its run is to be cancelled. The running one is still left alone.
    closed = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
    assert settled_at(closed) == {"late": ("missed", True), "queued": ("missed", True)}
    today = {(c.store_id, c.occurrence_key): c for c in claims.history()}
    today = {name: today[name, starts[name].keys[0]] for name in names}
    status = {name: c.status for name, c in today.items()}
    assert status["running"] == "started" and status["leased"] == "started"
    assert status["late"] == "missed" and status["crashed"] == "retry"
    errors = {name: c.error for name, c in today.items()}
    assert (
        errors["crashed"]
        == "store crashed: its flow run run-crashed ended CRASHED before running the store"
    )
    assert (
        errors["late"]
        == "store late: its flow run run-late was still SCHEDULED when it stopped being due"
    )


def test_a_store_whose_run_was_created_but_holds_no_lease_yet_takes_a_slot(url: str) -> None:
    """Between its start and its lease a store run holds only its claim: a tick following the
    leases (or an overlapping one) must not start another store in its slot meanwhile."""
    registry = Registry(url, from_env=False)
    stores = [_store(registry, "first", priority="high"), _store(registry, "second")]
    claims, leases = Claims(url), Leases(url)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    (start,) = tick(stores, now, claims=claims, leases=leases, max_concurrent_stores=1).started
    assert start.store.id == "first"
    again = tick(stores, now + TICK, claims=claims, leases=leases, max_concurrent_stores=1)
    assert again.started == [] and [w.occurrence.store_id for w in again.waiting] == ["second"]
    claims.finish("first", start.keys, status=COMPLETED, now=now + TICK)
    last = tick(stores, now + 2 * TICK, claims=claims, leases=leases, max_concurrent_stores=1)
    assert [s.store.id for s in last.started] == ["second"]
