"""The store board's rows at a fixed instant: state, windows local and UTC, last outcome, due."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from multistore.board import board_rows
from multistore.registry import Registry

CHICAGO = ZoneInfo("America/Chicago")


def test_board_rows() -> None:
    registry = Registry()
    registry.add("night", timezone="America/Chicago", window="22:00-23:30", priority="high")
    registry.add("done", timezone="America/Chicago", window="22:00-23:30")
    registry.add("later", timezone="America/Chicago", window="06:00-07:00", region="east")
    registry.add("off", enabled=False)
    registry.add("stuck")
    for _ in range(2):
        registry.record_outcome("stuck", False, "boom", threshold=2)
    registry.finish_run(registry.start_run("done", None), "completed")  # finished "now" (later)
    registry.finish_run(registry.start_run("stuck", None), "failed", error="HTTP 503\non feed")

    now = datetime(2026, 3, 2, 22, 30, tzinfo=CHICAGO).astimezone(UTC)
    rows = {r["store"]: r for r in board_rows(registry.list(), registry.last_runs(), now)}
    assert list(rows) == ["done", "later", "night", "off", "stuck"]
    night = rows["night"]
    assert night["state"] == "enabled" and night["priority"] == "HIGH"
    assert night["window_local"] == "22:00-23:30 America/Chicago"
    assert night["window_utc"] == "04:00-05:30 UTC"  # CST is UTC-6
    assert night["last_outcome"] == "never run" and night["next_due"] == "now"
    # Its run finished after the window opened: due again at the next opening.
    assert rows["done"]["next_due"] == "2026-03-04 04:00 UTC"
    assert rows["done"]["last_outcome"].startswith("completed ")
    assert rows["later"]["next_due"] == "2026-03-03 12:00 UTC"
    assert rows["later"]["window_utc"] == "12:00-13:00 UTC"
    assert rows["off"]["state"] == "disabled" and rows["off"]["next_due"] == "not due (disabled)"
    assert rows["stuck"]["state"] == "quarantined"
    assert rows["stuck"]["next_due"] == "not due (quarantined: release it)"
    assert rows["stuck"]["last_outcome"].endswith("UTC: HTTP 503 on feed")
    assert rows["stuck"]["window_local"] == "always" and rows["stuck"]["window_utc"] == "always"
