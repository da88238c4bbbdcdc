"""Which stores run, in what order, and why the others are skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from multistore.planning import ALREADY_RUNNING, DISABLED, OUTSIDE_WINDOW, QUARANTINED, Skip, plan
from multistore.registry import Priority, Store, UnknownStoreError

# 2026-06-01 12:00 UTC: 05:00 in Los Angeles, 07:00 in Chicago, 08:00 in New York.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def store(store_id: str, **fields: object) -> Store:
    values: dict = {
        "id": store_id,
        "name": store_id,
        "priority": Priority.MEDIUM,
        "enabled": True,
        "timezone": "UTC",
    }
    values.update(fields)
    return Store(**values)


def test_priority_then_least_recently_run_then_id() -> None:
    stores = [
        store("low-a", priority=Priority.LOW),
        store("med-recent", last_run_at=NOW - timedelta(hours=1)),
        store("med-old", last_run_at=NOW - timedelta(days=2)),
        store("med-never"),
        store("high-b", priority=Priority.HIGH),
        store("high-a", priority=Priority.HIGH),
    ]
    result = plan(stores, NOW)
    assert result.selected_ids == [
        "high-a",
        "high-b",
        "med-never",
        "med-old",
        "med-recent",
        "low-a",
    ]
    assert result.skipped == []


def test_skips_say_why_and_when_the_window_opens() -> None:
    stores = [
        store("off", enabled=False),
        store("sick", consecutive_failures=3, quarantined_at=NOW, quarantine_reason="3 fails"),
        # 05:00 in Los Angeles: a 22:00–06:00 window is open.
        store(
            "night-west", timezone="America/Los_Angeles", window_start="22:00", window_end="06:00"
        ),
        # 08:00 in New York: closed until 22:00 tonight.
        store("night-east", timezone="America/New_York", window_start="22:00", window_end="06:00"),
    ]
    result = plan(stores, NOW)
    assert result.selected_ids == ["night-west"]
    east = ZoneInfo("America/New_York")
    assert result.skipped == [
        Skip(
            "night-east",
            OUTSIDE_WINDOW,
            datetime(2026, 6, 1, 22, 0, tzinfo=east),
            "window 22:00-06:00 America/New_York; opens 2026-06-01 22:00 EDT; "
            "--ignore-windows (ignore_windows=true) runs it now",
        ),
        Skip("off", DISABLED),
        Skip("sick", QUARANTINED, detail="3 fails"),
    ]
    # The next opening is given in the store's own zone.
    assert result.skipped[0].next_open.tzinfo == east


def test_a_running_store_is_skipped_with_the_line_saying_where_it_runs() -> None:
    line = "store a is already running since 2026-06-01T11:00:00+00:00 in flow run f"
    result = plan([store("a"), store("b")], NOW, running={"a": line})
    assert result.selected_ids == ["b"]
    assert result.skipped == [Skip("a", ALREADY_RUNNING, detail=line)]


def test_a_disabled_store_is_skipped_as_disabled_even_when_quarantined() -> None:
    result = plan([store("a", enabled=False, quarantined_at=NOW)], NOW)
    assert [s.reason for s in result.skipped] == [DISABLED]


def test_filters_narrow_without_reporting_the_rest() -> None:
    stores = [
        store("a", priority=Priority.HIGH, region="west"),
        store("b", priority=Priority.LOW, region="west"),
        store("c", priority=Priority.HIGH, region="east", enabled=False),
    ]
    assert plan(stores, NOW, priority="high").selected_ids == ["a"]
    assert [s.store_id for s in plan(stores, NOW, priority="HIGH").skipped] == ["c"]
    assert plan(stores, NOW, region="west").selected_ids == ["a", "b"]
    assert plan(stores, NOW, only_ids=["b", "c"]).selected_ids == ["b"]
    assert plan(stores, NOW, only_ids=["b"], priority="high").selected_ids == []


def test_unknown_ids_are_named() -> None:
    with pytest.raises(UnknownStoreError, match="'ghost'"):
        plan([store("a")], NOW, only_ids=["a", "ghost"])


def test_now_must_have_a_zone() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        plan([store("a")], datetime(2026, 6, 1, 12, 0))


def test_ignoring_windows_runs_closed_stores_but_never_disabled_or_quarantined() -> None:
    stores = [
        store("off", enabled=False),
        store("sick", quarantined_at=NOW, quarantine_reason="3 fails"),
        store("night-east", timezone="America/New_York", window_start="22:00", window_end="06:00"),
    ]
    assert plan(stores, NOW).selected_ids == []
    result = plan(stores, NOW, ignore_windows=True)
    assert result.selected_ids == ["night-east"]
    assert [(s.store_id, s.reason) for s in result.skipped] == [
        ("off", DISABLED),
        ("sick", QUARANTINED),
    ]
