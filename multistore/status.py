"""The registry at a glance: counts by state, the last run of each store, the quarantined.

Plain data (JSON-ready dicts), so the CLI renders it and scripts read it with `--json`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from multistore.models import Store, StoreRun
from multistore.planning import plan
from multistore.registry import Registry
from multistore.windows import format_window, is_open


def store_state(store: Store) -> str:
    """One word: quarantined wins over disabled, which wins over enabled."""
    if store.quarantined_at is not None:
        return "quarantined"
    return "enabled" if store.enabled else "disabled"


def store_row(store: Store, now: datetime, last: StoreRun | None = None) -> dict[str, Any]:
    open_now = is_open(store.window_start, store.window_end, store.timezone, now)
    return {
        "id": store.id,
        "name": store.name,
        "priority": str(store.priority),
        "state": store_state(store),
        "enabled": store.enabled,
        "timezone": store.timezone,
        "window": format_window(store.window_start, store.window_end),
        "window_open": open_now,
        "region": store.region,
        "tags": list(store.tags or []),
        "jobs": list(store.jobs or []),
        "consecutive_failures": store.consecutive_failures,
        "quarantined_at": _iso(store.quarantined_at),
        "quarantine_reason": store.quarantine_reason,
        "last_run_at": _iso(store.last_run_at),
        "last_run": None if last is None else run_row(last),
    }


def run_row(run: StoreRun) -> dict[str, Any]:
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id,
        "store_id": run.store_id,
        "flow_run_id": run.flow_run_id,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": duration,
        "error": run.error,
        "metrics": run.metrics or {},
    }


def status(registry: Registry, now: datetime) -> dict[str, Any]:
    """{"at", "counts": {...}, "stores": [row...], "quarantined": [{id, reason, since}]}."""
    stores = registry.list()
    last_runs = registry.last_runs()
    rows = [store_row(s, now, last_runs.get(s.id)) for s in stores]
    counts = {
        "total": len(rows),
        "enabled": sum(1 for s in stores if s.enabled),
        "disabled": sum(1 for s in stores if not s.enabled),
        "quarantined": sum(1 for s in stores if s.quarantined_at is not None),
        "window_open": sum(1 for r in rows if r["window_open"]),
        # The parent flow's own rule: enabled, not quarantined, window open.
        "due_now": len(plan(stores, now).selected_ids),
    }
    quarantined = [
        {"id": r["id"], "reason": r["quarantine_reason"], "since": r["quarantined_at"]}
        for r in rows
        if r["state"] == "quarantined"
    ]
    return {
        "at": now.isoformat(),
        "counts": counts,
        "stores": rows,
        "quarantined": quarantined,
        "occurrences": occurrence_status(registry, now),
    }


def occurrence_status(registry: Registry, now: datetime) -> dict[str, Any]:
    """The scheduler's last day: claims by status, the missed occurrences, the live leases."""
    from multistore.claims import MISSED, Claims
    from multistore.leases import Leases

    since = now - timedelta(days=1)
    claims = Claims(registry.url)
    recent = [c for c in claims.history(limit=5000) if c.due_from >= since]
    return {
        "since": since.isoformat(),
        "by_status": claims.counts(since=since),
        "missed": [
            {"store_id": c.store_id, "occurrence": c.occurrence_key, "error": c.error}
            for c in recent
            if c.status == MISSED
        ],
        "running": [
            {"store_id": h.store_id, "flow_run_id": h.holder, "since": h.since.isoformat()}
            for h in Leases(registry.url).live(now=now).values()
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
