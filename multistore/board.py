"""The store board: one row per store, what the Prefect UI shows as the `store-board` table.

Each parent run (and scheduler tick) publishes it under one key, so the artifact's history in the
UI answers "what is happening to store X" without the CLI: its state, its window in its own zone
and in UTC, its priority, how its last run ended and when it is next due.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from multistore.models import Store, StoreRun
from multistore.status import store_state
from multistore.windows import closes_at, format_window, is_open, last_opened, next_open

BOARD_KEY = "store-board"


def board_rows(
    stores: Iterable[Store], last_runs: Mapping[str, StoreRun], now: datetime
) -> list[dict[str, Any]]:
    """The board at `now` (aware), sorted by store id."""
    return [_row(store, last_runs.get(store.id), now) for store in sorted(stores, key=_id)]


def _row(store: Store, last: StoreRun | None, now: datetime) -> dict[str, Any]:
    state = store_state(store)
    if last is not None and last.status == "running":
        state = "running"
    window = format_window(store.window_start, store.window_end)
    return {
        "store": store.id,
        "state": state,
        "priority": str(store.priority),
        "region": store.region or "",
        "window_local": window if store.always_open else f"{window} {store.timezone}",
        "window_utc": _window_utc(store, now),
        "next_due": _next_due(store, last, now),
        "last_outcome": _last_outcome(last),  # last: the widest column
    }


def _window_utc(store: Store, now: datetime) -> str:
    """The current (or next) opening of the window, in UTC, as 'HH:MM-HH:MM UTC'."""
    if store.always_open:
        return "always"
    start, end, tz = store.window_start, store.window_end, store.timezone
    opening = last_opened(start, end, tz, now) if is_open(start, end, tz, now) else None
    opening = opening or next_open(start, end, tz, now)
    closing = closes_at(start, end, tz, opening)
    return f"{opening:%H:%M}-{closing:%H:%M} UTC" if closing else f"from {opening:%H:%M} UTC"


def _last_outcome(last: StoreRun | None) -> str:
    if last is None:
        return "never run"
    when = last.finished_at or last.started_at
    error = f": {' '.join(last.error.split())[:80]}" if last.error else ""
    return f"{last.status} {when:%Y-%m-%d %H:%M} UTC{error}"


def _next_due(store: Store, last: StoreRun | None, now: datetime) -> str:
    if not store.enabled:
        return "not due (disabled)"
    if store.quarantined_at is not None:
        return "not due (quarantined: release it)"
    start, end, tz = store.window_start, store.window_end, store.timezone
    if is_open(start, end, tz, now):
        opened = last_opened(start, end, tz, now)
        done = (
            last is not None
            and last.status == "completed"
            and last.finished_at is not None
            and (opened is None or last.finished_at >= opened)
        )
        if not done or store.always_open:
            return "now"
        after = closes_at(start, end, tz, now) or now
    else:
        after = now
    return f"{next_open(start, end, tz, after):%Y-%m-%d %H:%M} UTC"


def _id(store: Store) -> str:
    return store.id
