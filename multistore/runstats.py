"""The statistics of a store pipeline run: per job, totals, throughput, dependency violations.

Built from what the runner observed (when each job started and finished, and how it ended), so a
violation is counted from facts: a job that started before one of its dependencies had finished
completed. The runner should never produce one; the count proves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from multistore.jobgraph import JobGraph

COMPLETED, FAILED, BLOCKED = "completed", "failed", "blocked"
# Not started because the store's window closed first (a job already running finishes).
STOPPED = "stopped"


@dataclass
class JobRecord:
    """One job's outcome. Times are epoch seconds; a blocked job has neither."""

    name: str
    status: str
    started_at: float | None = None
    finished_at: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    blocked_by: str | None = None
    # Failed because the orchestrator (the Prefect server) did not grant a pool slot.
    orchestrator: bool = False

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


def dependency_violations(graph: JobGraph, records: Mapping[str, JobRecord]) -> int:
    """Jobs that started before a dependency completed (or whose dependency never completed)."""
    violations = 0
    for job, record in records.items():
        if record.started_at is None:
            continue
        for dep in graph.dependencies.get(job, ()):
            upstream = records.get(dep)
            if (
                upstream is None
                or upstream.status != COMPLETED
                or upstream.finished_at is None
                or upstream.finished_at > record.started_at
            ):
                violations += 1
    return violations


def run_statistics(
    store_id: str,
    graph: JobGraph,
    records: Mapping[str, JobRecord],
    *,
    started_at: float,
    finished_at: float,
) -> dict[str, Any]:
    """The run's statistics as a JSON-ready dict (the flow's result and the StoreRun metrics)."""
    statuses = [r.status for r in records.values()]
    failed = [r for r in records.values() if r.status == FAILED]
    seconds = max(finished_at - started_at, 0.0)
    ran = statuses.count(COMPLETED) + statuses.count(FAILED)
    stats: dict[str, Any] = {
        "store_id": store_id,
        "jobs": {
            name: {
                "status": r.status,
                "metrics": r.metrics,
                "error": r.error,
                "blocked_by": r.blocked_by,
                "started_at": _iso(r.started_at),
                "finished_at": _iso(r.finished_at),
                "seconds": None if r.seconds is None else round(r.seconds, 3),
            }
            for name, r in records.items()
        },
        "total_jobs": len(records),
        "successful_jobs": statuses.count(COMPLETED),
        "failed_jobs": statuses.count(FAILED),
        "blocked_jobs": statuses.count(BLOCKED),
        "stopped_jobs": statuses.count(STOPPED),
        "processing_seconds": round(seconds, 3),
        "dealers_processed": 1,
        "jobs_per_second": round(ran / seconds, 3) if seconds > 0 else 0.0,
        "dependency_violations": dependency_violations(graph, records),
        # Every failed job failed on the orchestrator: the run's failure is not the store's, and
        # never counts toward its quarantine.
        "orchestrator_failure": bool(failed) and all(r.orchestrator for r in failed),
        "graph": {"jobs": list(graph.jobs), "edges": [list(e) for e in graph.edges]},
        "started_at": _iso(started_at),
        "finished_at": _iso(finished_at),
    }
    if "dnc_compliance" in records and records["dnc_compliance"].status == COMPLETED:
        stats["compliance"] = records["dnc_compliance"].metrics
    # Jobs report numpy and pandas scalars; the registry stores JSON.
    return json.loads(json.dumps(stats, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def combine(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals over several stores' runs (e.g. a batch run concurrently)."""
    runs = list(runs)
    keys = ("total_jobs", "successful_jobs", "failed_jobs", "blocked_jobs", "dependency_violations")
    totals = {key: sum(int(r.get(key, 0)) for r in runs) for key in keys}
    starts = [datetime.fromisoformat(r["started_at"]) for r in runs if r.get("started_at")]
    ends = [datetime.fromisoformat(r["finished_at"]) for r in runs if r.get("finished_at")]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    ran = totals["successful_jobs"] + totals["failed_jobs"]
    return {
        **totals,
        "dealers_processed": len({r.get("store_id") for r in runs}),
        "processing_seconds": round(wall, 3),
        "jobs_per_second": round(ran / wall, 3) if wall > 0 else 0.0,
    }


def render_markdown(
    graph: JobGraph, stats: Mapping[str, Any], *, data_dir: Path | str | None = None
) -> str:
    """The run report as the Prefect UI shows it (it does not draw Mermaid): the job graph as a
    table of jobs with their state and upstream jobs, then each job's metrics as columns of their
    own, paths relative to `data_dir`."""
    lines = [
        f"# Store pipeline: {stats['store_id']}",
        "",
        f"{stats['successful_jobs']} completed, {stats['failed_jobs']} failed, "
        f"{stats['blocked_jobs']} blocked of {stats['total_jobs']} jobs in "
        f"{stats['processing_seconds']:.1f} s ({stats['jobs_per_second']} jobs/s); "
        f"dependency violations: {stats['dependency_violations']}.",
        "",
        "## Job graph",
        "",
        "| job | state | upstream | seconds | error |",
        "|---|---|---|---:|---|",
    ]
    for name, job in stats["jobs"].items():
        upstream = ", ".join(graph.dependencies.get(name, ())) or "—"
        error = job["error"] or (f"blocked by {job['blocked_by']}" if job["blocked_by"] else "")
        seconds = "" if job["seconds"] is None else f"{job['seconds']:.2f}"
        lines.append(
            f"| {name} | {_STATE_MARK.get(job['status'], '')}{job['status']} | {upstream} | "
            f"{seconds} | {_cell(error)} |"
        )
    for name, job in stats["jobs"].items():
        metrics = {k: v for k, v in job["metrics"].items() if _scalar(v)}
        if not metrics:
            continue
        lines += [
            "",
            f"### {name}",
            "",
            "| " + " | ".join(metrics) + " |",
            "|" + "---|" * len(metrics),
            "| " + " | ".join(_cell(_show(v, data_dir)) for v in metrics.values()) + " |",
        ]
    return "\n".join(lines) + "\n"


# A mark before each state, so a glance down the column finds the failure.
_STATE_MARK = {COMPLETED: "✅ ", FAILED: "❌ ", BLOCKED: "⛔ "}


def _show(value: Any, data_dir: Path | str | None) -> str:
    """A metric for people: a path under the data directory relative to it."""
    if value is None:
        return ""
    text = str(value)
    if data_dir is not None and isinstance(value, str) and text.startswith("/"):
        try:
            return str(Path(text).relative_to(Path(data_dir).resolve()))
        except ValueError:
            return text
    return text


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()
