"""The run report: one dict per parent run, its markdown and table forms, and its JSON on disk.

Prefect-free, so `multistore status` can read a report without a server. The parent flow fills a
`RunReport` as stores start and finish, saves it after each change (so `status --watch` sees the
run in progress) and publishes the same content as Prefect artifacts at the end.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from multistore import runstats
from multistore.atomic import atomic_open

# A store's place in the run, in the order a run moves through them.
QUEUED, RUNNING, RETRY_WAIT, COMPLETED, FAILED, NOT_STARTED = (
    "queued",
    "running",
    "retry-wait",
    "completed",
    "failed",
    "not-started",
)
FINAL = {COMPLETED, FAILED, NOT_STARTED}

LATEST = "latest.json"
CURRENT = "current.json"


def reports_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "reports"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class StoreEntry:
    """One selected store's line in the report."""

    store_id: str
    priority: str
    status: str = QUEUED
    attempts: int = 0
    duration_seconds: float = 0.0
    jobs_completed: int = 0
    jobs_failed: int = 0
    jobs_blocked: int = 0
    compliance: dict[str, Any] | None = None
    # Per outside service: calls, 429s (rate_limited), 5xx (server_errors), retries.
    api: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None
    quarantined: bool = False
    flow_run_ids: list[str] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def compliance_rate(self) -> float | None:
        rate = (self.compliance or {}).get("compliance_rate")
        return None if rate is None else float(rate)

    def absorb_stats(self, stats: dict[str, Any] | None) -> None:
        """Take the job counts and compliance figures from a store pipeline's statistics."""
        jobs = (stats or {}).get("jobs") or {}
        statuses = [str((job or {}).get("status")) for job in jobs.values()]
        self.jobs_completed = statuses.count("completed")
        self.jobs_failed = statuses.count("failed")
        self.jobs_blocked = statuses.count("blocked")
        self.compliance = (stats or {}).get("compliance") or None
        # Every attempt's calls count, so they add up over the store's retries.
        for service, counts in ((stats or {}).get("api") or {}).items():
            mine = self.api.setdefault(service, {})
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + int(value)


@dataclass
class SkipEntry:
    store_id: str
    reason: str
    next_open: str | None = None
    detail: str = ""


@dataclass
class RunReport:
    """The report of one parent run; `to_dict` is what lands in JSON and artifacts."""

    flow_run_id: str | None
    parameters: dict[str, Any]
    stores: list[StoreEntry] = field(default_factory=list)
    skipped: list[SkipEntry] = field(default_factory=list)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: str = RUNNING
    started_at: str = field(default_factory=lambda: _now().isoformat())
    finished_at: str | None = None
    dry_run: bool = False
    # Where the code that ran came from (multistore.revision.code_identity).
    code: dict[str, Any] = field(default_factory=dict)

    def entry(self, store_id: str) -> StoreEntry:
        for entry in self.stores:
            if entry.store_id == store_id:
                return entry
        raise KeyError(f"store {store_id!r} is not in this run's report")

    def totals(self) -> dict[str, int]:
        counts = {status: 0 for status in (QUEUED, RUNNING, RETRY_WAIT, COMPLETED, FAILED)}
        for entry in self.stores:
            counts[entry.status] = counts.get(entry.status, 0) + 1
        return {
            "selected": len(self.stores),
            "completed": counts[COMPLETED],
            "failed": counts[FAILED],
            "not_started": counts.get(NOT_STARTED, 0),
            "running": counts[RUNNING],
            "queued": counts[QUEUED] + counts[RETRY_WAIT],
            "skipped": len(self.skipped),
            "quarantined": sum(entry.quarantined for entry in self.stores),
        }

    def compliance(self) -> dict[str, Any]:
        """The stores' compliance statistics added up; the rate is weighted by contacts."""
        contacts = callable_ = invalid = flags_changed = 0
        weighted = 0.0
        blocked: dict[str, int] = {}
        stores = 0
        for entry in self.stores:
            stats = entry.compliance
            if not stats:
                continue
            stores += 1
            n = int(stats.get("contacts") or 0)
            contacts += n
            callable_ += int(stats.get("callable") or 0)
            invalid += int(stats.get("invalid") or 0)
            flags_changed += int(stats.get("flags_changed") or 0)
            weighted += n * float(stats.get("compliance_rate") or 0.0)
            for reason, count in (stats.get("blocked_by_reason") or {}).items():
                blocked[reason] = blocked.get(reason, 0) + int(count)
        return {
            "stores": stores,
            "contacts": contacts,
            "callable": callable_,
            "invalid": invalid,
            "flags_changed": flags_changed,
            "blocked_by_reason": dict(sorted(blocked.items())),
            "compliance_rate": round(weighted / contacts, 4) if contacts else None,
        }

    def job_totals(self) -> dict[str, Any]:
        """Jobs over every store that ran (seed 001's fields; dealers_processed counted)."""
        ran = [entry for entry in self.stores if entry.attempts > 0]
        return runstats.combine(
            {
                "store_id": entry.store_id,
                "total_jobs": entry.jobs_completed + entry.jobs_failed + entry.jobs_blocked,
                "successful_jobs": entry.jobs_completed,
                "failed_jobs": entry.jobs_failed,
                "blocked_jobs": entry.jobs_blocked,
                "started_at": entry.started_at,
                "finished_at": entry.finished_at,
            }
            for entry in ran
        )

    def api_totals(self) -> dict[str, dict[str, int]]:
        """Calls, 429s, 5xx and retries per outside service, over every store of the run."""
        totals: dict[str, dict[str, int]] = {}
        for entry in self.stores:
            for service, counts in entry.api.items():
                mine = totals.setdefault(service, {})
                for key, value in counts.items():
                    mine[key] = mine.get(key, 0) + value
        return dict(sorted(totals.items()))

    def finish(self) -> None:
        self.finished_at = _now().isoformat()
        ok = all(entry.status == COMPLETED for entry in self.stores)
        self.state = COMPLETED if ok else FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "state": self.state,
            "dry_run": self.dry_run,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "parameters": self.parameters,
            "code": self.code,
            "totals": self.totals(),
            "compliance": self.compliance(),
            "api": self.api_totals(),
            "jobs": self.job_totals(),
            "pools": self.pools,
            "stores": [
                {**asdict(entry), "compliance_rate": entry.compliance_rate} for entry in self.stores
            ],
            "skipped": [asdict(skip) for skip in self.skipped],
        }


def table_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per store for the table artifact, skipped stores included."""
    rows = [
        {
            "store": store["store_id"],
            "priority": store["priority"],
            "status": store["status"] + (" (quarantined)" if store["quarantined"] else ""),
            "attempts": store["attempts"],
            "duration_s": round(store["duration_seconds"], 1),
            "jobs_done": store["jobs_completed"],
            "jobs_failed": store["jobs_failed"],
            "jobs_blocked": store["jobs_blocked"],
            "compliance_rate": store["compliance_rate"],
            "error": _one_line(store["error"]),
        }
        for store in report["stores"]
    ]
    rows += [
        {
            "store": skip["store_id"],
            "priority": "",
            "status": "skipped",
            "attempts": 0,
            "duration_s": 0.0,
            "jobs_done": 0,
            "jobs_failed": 0,
            "jobs_blocked": 0,
            "compliance_rate": None,
            "error": _skip_text(skip)
            + (f" (next opens {skip['next_open']})" if skip["next_open"] else ""),
        }
        for skip in report["skipped"]
    ]
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    """The totals, compliance statistics, pool usage, failures and skips, as markdown."""
    totals = report["totals"]
    title = "Dry run: the stores that would run" if report["dry_run"] else "Store run report"
    lines = [
        f"# {title}",
        "",
        f"State: **{report['state']}** · started {report['started_at']}"
        + (f" · finished {report['finished_at']}" if report["finished_at"] else ""),
        "",
        "| selected | completed | failed | skipped | quarantined |",
        "|---:|---:|---:|---:|---:|",
        f"| {totals['selected']} | {totals['completed']} | {totals['failed']} | "
        f"{totals['skipped']} | {totals['quarantined']} |",
    ]
    compliance = report["compliance"]
    if compliance["stores"]:
        rate = compliance["compliance_rate"]
        lines += [
            "",
            "## Compliance",
            "",
            f"{compliance['contacts']} contacts in {compliance['stores']} stores: "
            f"{compliance['callable']} callable, {compliance['invalid']} invalid, "
            f"{compliance['flags_changed']} CRM flags changed, compliance rate "
            f"{'n/a' if rate is None else f'{rate:.1%}'}.",
        ]
        if compliance["blocked_by_reason"]:
            lines += ["", "| blocked because | contacts |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in compliance["blocked_by_reason"].items()]
    if report["pools"]:
        lines += ["", "## Pools", "", "| pool | limit | peak in use |", "|---|---:|---:|"]
        for name, pool in sorted(report["pools"].items()):
            lines.append(f"| {name} | {pool.get('limit', '')} | {pool.get('peak_active', '')} |")
    failed = [s for s in report["stores"] if s["status"] == "failed"]
    if failed:
        lines += ["", "## Failed stores", "", "| store | attempts | error |", "|---|---:|---|"]
        lines += [
            f"| {s['store_id']}{' (quarantined)' if s['quarantined'] else ''} | "
            f"{s['attempts']} | {_one_line(s['error'])} |"
            for s in failed
        ]
    if report["skipped"]:
        lines += ["", "## Skipped stores", "", "| store | reason | next opens |", "|---|---|---|"]
        lines += [
            f"| {s['store_id']} | {_skip_text(s)} | {s['next_open'] or ''} |"
            for s in report["skipped"]
        ]
    return "\n".join(lines) + "\n"


def _skip_text(skip: dict[str, Any]) -> str:
    return f"{skip['reason']} ({skip['detail']})" if skip.get("detail") else skip["reason"]


def _one_line(text: str | None, limit: int = 200) -> str:
    if not text:
        return ""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically: a reader (`status --watch`) never sees half a file."""
    with atomic_open(path, "w") as out:
        json.dump(payload, out, indent=2, default=str)


def save_progress(report: RunReport, data_dir: Path) -> Path:
    """The run in progress, for `status --watch`."""
    path = reports_dir(data_dir) / CURRENT
    _write_json(path, report.to_dict())
    return path


def save_final(report: RunReport, data_dir: Path) -> Path:
    """The finished report under its own name, and as `latest.json`."""
    payload = report.to_dict()
    stamp = _now().strftime("%Y%m%dT%H%M%S.%fZ")
    # Microseconds, and for a local run a short random tag, keep two saves in one second apart.
    suffix = report.flow_run_id[:8] if report.flow_run_id else f"local-{uuid.uuid4().hex[:8]}"
    path = reports_dir(data_dir) / f"{stamp}-{suffix}.json"
    _write_json(path, payload)
    _write_json(reports_dir(data_dir) / LATEST, payload)
    _write_json(reports_dir(data_dir) / CURRENT, payload)
    return path


def load_report(data_dir: Path, name: str = LATEST) -> dict[str, Any] | None:
    """A saved report (`latest.json` or `current.json`), or None when there is none yet."""
    path = reports_dir(data_dir) / name
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a report ({exc.msg} at line {exc.lineno})") from None
