"""Occurrences and recurring tasks: identities, DST nights, windows across midnight, bad config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from multistore.config import ConfigError, dump_store_file, load_store_file, parse_store
from multistore.occurrences import DAY, TASK, WINDOW, due, occurrences
from multistore.registry import Registry


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_window_across_midnight_is_one_occurrence_per_opening_named_by_its_local_date() -> None:
    registry = Registry()
    store = registry.add("night", timezone="America/Chicago", window="22:00-06:00")
    found = occurrences(store, _utc(2026, 1, 10, 12), _utc(2026, 1, 11, 12))
    (occ,) = [o for o in found if o.due_until > _utc(2026, 1, 10, 12)]
    assert occ.kind == WINDOW and occ.key == "window:2026-01-10"
    assert (occ.due_from, occ.due_until) == (_utc(2026, 1, 11, 4), _utc(2026, 1, 11, 12))


def test_spring_forward_closes_the_window_at_the_jump_and_fall_back_opens_it_twice_as_one() -> None:
    registry = Registry()
    spring = registry.add("spring", timezone="America/New_York", window="01:30-02:30")
    (occ,) = occurrences(spring, _utc(2026, 3, 8, 5), _utc(2026, 3, 8, 8))
    # 01:30 EST = 06:30 UTC; the clocks jump at 07:00 UTC (02:00 → 03:00): closed from then.
    assert (occ.due_from, occ.due_until) == (_utc(2026, 3, 8, 6, 30), _utc(2026, 3, 8, 7))
    fall = registry.add("fall", timezone="America/New_York", window="01:00-01:30")
    (occ,) = occurrences(fall, _utc(2026, 11, 1, 4), _utc(2026, 11, 1, 8))
    assert occ.key == "window:2026-11-01"
    assert occ.open_spans == (
        (_utc(2026, 11, 1, 5), _utc(2026, 11, 1, 5, 30)),
        (_utc(2026, 11, 1, 6), _utc(2026, 11, 1, 6, 30)),
    )
    assert occ.due_at(_utc(2026, 11, 1, 6, 10)) and not occ.due_at(_utc(2026, 11, 1, 5, 45))


def test_an_always_open_store_is_due_once_per_local_day() -> None:
    store = Registry().add("always", timezone="Asia/Tokyo")
    (occ,) = due([store], _utc(2026, 6, 1, 16))  # 01:00 on 2 June in Tokyo
    assert occ.kind == DAY and occ.key == "day:2026-06-02"
    assert occ.due_from == _utc(2026, 6, 1, 15) and occ.due_until == _utc(2026, 6, 2, 15)


def test_a_task_fires_on_the_store_wall_clock_for_its_catch_up_and_a_skipped_time_at_the_jump() -> (
    None
):
    registry = Registry()
    registry.add("feeds", timezone="America/New_York")
    store = registry.add_task("feeds", name="dnc", cron="30 2 * * *", jobs=["dnc_compliance"])
    tasks = [o for o in occurrences(store, _utc(2026, 3, 7), _utc(2026, 3, 9)) if o.kind == TASK]
    assert [o.key for o in tasks] == ["task:dnc:2026-03-07T02:30", "task:dnc:2026-03-08T02:30"]
    assert tasks[0].due_from == _utc(2026, 3, 7, 7, 30)
    assert tasks[0].due_until - tasks[0].due_from == timedelta(minutes=30)
    assert tasks[1].due_from == _utc(2026, 3, 8, 7)  # 02:30 does not exist: fires at 03:00 EDT
    assert tasks[0].jobs == ("dnc_compliance",)


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (
            {"name": "t", "cron": "0 25 * * *", "jobs": ["homenet_feed"]},
            "store 'x': tasks.0.cron: '0 25 * * *' is not a cron expression",
        ),
        (
            {"name": "t", "cron": "0 1 * * *", "jobs": ["nope"]},
            "store 'x': tasks.0.jobs: unknown job 'nope'",
        ),
        (
            {"name": "t", "cron": "0 */4 * * *", "jobs": ["homenet_feed"], "catch_up_minutes": 300},
            "store 'x': tasks.0: catch_up_minutes: 300 is longer than the cron's cadence",
        ),
    ],
)
def test_bad_tasks_are_refused_with_one_line_naming_store_and_field(
    task: dict, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_store({"id": "x", "tasks": [task]})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_duplicate_task_is_refused_and_nothing_changes() -> None:
    registry = Registry()
    registry.add("x")
    registry.add_task("x", name="feed", cron="0 */4 * * *", jobs=["homenet_feed"])
    with pytest.raises(ConfigError, match=r"store 'x': tasks.1.name: duplicate task 'feed'"):
        registry.add_task("x", name="feed", cron="0 1 * * *", jobs=["homenet_feed"])
    with pytest.raises(ConfigError, match=r"store 'x': tasks.1: duplicate task"):
        registry.add_task("x", name="other", cron="0 */4 * * *", jobs=["homenet_feed"])
    assert [t["name"] for t in registry.get("x").tasks] == ["feed"]


def test_tasks_round_trip_through_export_and_import(tmp_path: Path) -> None:
    registry = Registry()
    registry.add("x", timezone="Europe/Paris", window="22:00-06:00")
    registry.add_task("x", name="feed", cron="0 */4 * * *", jobs=["homenet_feed"])
    registry.add_task(
        "x", name="dnc", cron="30 2 * * *", jobs=["dnc_compliance"], catch_up_minutes=90
    )
    path = tmp_path / "stores.yaml"
    dump_store_file(registry.export(), path)
    registry.remove("x")
    registry.import_stores(load_store_file(path), merge=True)
    assert registry.get("x").tasks == [
        {"name": "feed", "cron": "0 */4 * * *", "jobs": ["homenet_feed"], "catch_up_minutes": 30},
        {"name": "dnc", "cron": "30 2 * * *", "jobs": ["dnc_compliance"], "catch_up_minutes": 90},
    ]
