"""A store's runs over time, and errors grouped across stores: plain data for the CLI.

`trend(runs)`: the success rate over the runs given and, oldest first, each run's duration and
outcome. `group_errors(runs)`: failed runs' errors grouped by a normalised message (numbers, ids,
URLs, quoted values and times replaced by placeholders), with counts and the stores affected:
the seed's "analyze errors".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from multistore.models import StoreRun

_PATTERNS = [
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.+\-Z]+"), "<time>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<value>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]
_BAR = " ▁▂▃▄▅▆▇█"


def normalise_error(message: str, store_id: str | None = None) -> str:
    """The message with what varies between occurrences replaced, on one line."""
    text = " ".join(message.split())
    if store_id:
        text = text.replace(store_id, "<store>")
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def group_errors(runs: Iterable[StoreRun]) -> list[dict[str, Any]]:
    """Failed runs' errors by normalised message, most frequent first."""
    groups: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.status != "failed" or not run.error:
            continue
        key = normalise_error(run.error, run.store_id)
        when = run.finished_at or run.started_at
        group = groups.setdefault(
            key, {"error": key, "count": 0, "stores": set(), "last_seen": when, "example": ""}
        )
        group["count"] += 1
        group["stores"].add(run.store_id)
        if when >= group["last_seen"] or not group["example"]:
            group["last_seen"], group["example"] = when, " ".join(run.error.split())[:300]
    rows = sorted(groups.values(), key=lambda g: (-g["count"], g["error"]))
    return [
        {**g, "stores": sorted(g["stores"]), "last_seen": g["last_seen"].isoformat()} for g in rows
    ]


def trend(runs: Iterable[StoreRun]) -> dict[str, Any]:
    """Success rate and each finished run's duration and outcome, oldest first."""
    finished = sorted(
        (r for r in runs if r.finished_at is not None), key=lambda r: (r.started_at, r.id or 0)
    )
    rows = [
        {
            "started_at": r.started_at.isoformat(),
            "status": r.status,
            "duration_seconds": round((r.finished_at - r.started_at).total_seconds(), 3),
        }
        for r in finished
    ]
    completed = sum(r["status"] == "completed" for r in rows)
    durations = [r["duration_seconds"] for r in rows]
    return {
        "runs": len(rows),
        "completed": completed,
        "failed": len(rows) - completed,
        "success_rate": round(completed / len(rows), 4) if rows else None,
        "outcomes": "".join("✓" if r["status"] == "completed" else "✗" for r in rows),
        "durations": sparkline(durations),
        "rows": rows,
    }


def sparkline(values: list[float]) -> str:
    """One character per value, its height relative to the largest."""
    top = max(values, default=0.0)
    if top <= 0:
        return _BAR[1] * len(values)
    return "".join(_BAR[max(1, round(v / top * (len(_BAR) - 1)))] for v in values)
