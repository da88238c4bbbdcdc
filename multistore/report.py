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
from multistore.dnc_codes import legend
from multistore.windows import zone

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
# A run's state when the stores asked for were all skipped: nothing ran, which is no success.
SKIPPED = "skipped"

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
    # The store's own zone, so that people read its times as the store sees them.
    timezone: str = "UTC"
    # One dict per attempt: attempt, flow_run_id, outcome, error, started_at, finished_at.
    attempt_log: list[dict[str, Any]] = field(default_factory=list)
    # The last attempt failed on the orchestrator (no pool slot granted), not on a vendor.
    orchestrator_failure: bool = False

    def record_attempt(
        self,
        attempt: int,
        *,
        flow_run_id: str | None,
        ok: bool,
        error: str | None,
        started_at: str | None,
    ) -> None:
        """Keep what one attempt ended as, its error included (a retry must not erase it)."""
        self.attempt_log.append(
            {
                "attempt": attempt,
                "flow_run_id": flow_run_id,
                "outcome": COMPLETED if ok else FAILED,
                "error": error,
                "started_at": started_at,
                "finished_at": _now().isoformat(),
            }
        )

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
        self.orchestrator_failure = bool((stats or {}).get("orchestrator_failure"))
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
    # Per pool, [seconds since the run started, slots in use] each time the value changed.
    pool_usage: dict[str, list[list[float]]] = field(default_factory=dict)
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

    def sample_pool(self, name: str, limit: int, active: float, *, at: datetime) -> None:
        """One reading of a pool: its peak so far and its usage over the run (changes only)."""
        pool = self.pools.setdefault(name, {"limit": limit, "peak_active": 0})
        pool["limit"] = limit
        pool["peak_active"] = max(pool["peak_active"], active)
        series = self.pool_usage.setdefault(name, [])
        if not series or series[-1][1] != active:
            offset = (at - datetime.fromisoformat(self.started_at)).total_seconds()
            series.append([round(max(offset, 0.0), 1), active])

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

    def nothing_ran(self) -> bool:
        """Stores were asked for by name and none of them ran (each skipped, with its reason)."""
        return bool(self.parameters.get("stores")) and not self.stores

    def finish(self) -> None:
        self.finished_at = _now().isoformat()
        ok = all(entry.status == COMPLETED for entry in self.stores)
        self.state = SKIPPED if self.nothing_ran() else (COMPLETED if ok else FAILED)

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
            "pool_usage": self.pool_usage,
            "stores": [
                {**asdict(entry), "compliance_rate": entry.compliance_rate} for entry in self.stores
            ],
            "skipped": [asdict(skip) for skip in self.skipped],
        }


def table_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per store for the table artifact, skipped stores included.

    Few, short columns (the Prefect UI cuts a wide table off): each attempt's error in `errors`,
    a skip's reason in `skipped_because`, times in the store's zone and in UTC.
    """
    rows = [
        {
            "store": store["store_id"],
            "priority": store["priority"],
            "status": store["status"] + (" (quarantined)" if store["quarantined"] else ""),
            "attempts": store["attempts"],
            "started": _both_zones(store.get("started_at"), store.get("timezone")),
            "duration_s": round(store["duration_seconds"], 1),
            "jobs": _jobs_text(store),
            "compliance_rate": store["compliance_rate"],
            "skipped_because": "",
            "errors": _one_line(attempts_text(store), 400),
        }
        for store in report["stores"]
    ]
    rows += [
        {
            "store": skip["store_id"],
            "priority": "",
            "status": "skipped",
            "attempts": 0,
            "started": "",
            "duration_s": 0.0,
            "jobs": "",
            "compliance_rate": None,
            "skipped_because": _skip_text(skip)
            + (f" (next opens {human_time(skip['next_open'])})" if skip["next_open"] else ""),
            "errors": "",
        }
        for skip in report["skipped"]
    ]
    return rows


def attempts_text(store: dict[str, Any]) -> str:
    """Every attempt's error, numbered when there were several ('attempt 1: …; attempt 2: ok')."""
    log = store.get("attempt_log") or []
    if len(log) <= 1:
        return store.get("error") or ""
    parts = [f"attempt {a['attempt']}: " + (a["error"] or a["outcome"] or "") for a in log]
    final = store.get("error")
    if final and final != log[-1]["error"]:
        parts.append(final)  # e.g. the outcome could not be recorded
    return "; ".join(parts)


def human_time(value: str | None, tz: str | None = None) -> str:
    """An ISO instant as people read it: 'YYYY-MM-DD HH:MM:SS ZZZ' (no microseconds)."""
    if not value:
        return ""
    instant = datetime.fromisoformat(value)
    if tz:
        try:
            instant = instant.astimezone(zone(tz))
        except ValueError:
            instant = instant.astimezone(UTC)
    elif instant.tzinfo is not None:
        instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _both_zones(value: str | None, tz: str | None) -> str:
    """'2026-11-29 09:03:12 EST (14:03:12 UTC)': the store's wall clock, then UTC."""
    if not value:
        return ""
    utc = human_time(value)
    if not tz or tz == "UTC":
        return utc
    return f"{human_time(value, tz)} ({utc[11:]})"


def _jobs_text(store: dict[str, Any]) -> str:
    parts = [f"{store['jobs_completed']} done"]
    if store["jobs_failed"]:
        parts.append(f"{store['jobs_failed']} failed")
    if store["jobs_blocked"]:
        parts.append(f"{store['jobs_blocked']} blocked")
    return ", ".join(parts)


def watch_rows(report: dict[str, Any], now: datetime) -> list[dict[str, str]]:
    """The stores of a run as `status --watch` shows them: running and queued first, then the
    finished ones (newest first) with how long they took and how they ended, skips last."""
    order = {RUNNING: 0, RETRY_WAIT: 1, QUEUED: 2}
    active = [s for s in report["stores"] if s["status"] not in FINAL]
    done = [s for s in report["stores"] if s["status"] in FINAL]
    active.sort(key=lambda s: order.get(s["status"], 3))
    done.sort(key=lambda s: s.get("finished_at") or "", reverse=True)
    rows = []
    for s in active + done:
        if s["status"] in FINAL:
            elapsed = s["duration_seconds"]
        elif s.get("started_at"):
            elapsed = (now - datetime.fromisoformat(s["started_at"])).total_seconds()
        else:
            elapsed = None
        outcome = (
            attempts_text(s) if s["status"] == FAILED or len(s.get("attempt_log") or []) > 1 else ""
        )
        rows.append(
            {
                "store": s["store_id"],
                "status": s["status"] + (" (quarantined)" if s["quarantined"] else ""),
                "attempt": str(s["attempts"] or ""),
                "elapsed": "" if elapsed is None else _duration(elapsed),
                "outcome": _one_line(outcome, 120),
            }
        )
    rows += [
        {
            "store": k["store_id"],
            "status": f"skipped: {k['reason']}",
            "attempt": "",
            "elapsed": "",
            "outcome": _one_line(k.get("detail"), 120),
        }
        for k in report["skipped"]
    ]
    return rows


def _duration(seconds: float) -> str:
    """'8.2 s', '3 min 05 s', '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def run_url(ui_url: str | None, flow_run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run."""
    if not ui_url or not flow_run_id:
        return None
    return f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


def _run_link(ui_url: str | None, flow_run_id: str | None, label: str) -> str:
    url = run_url(ui_url, flow_run_id)
    if url:
        return f"[{label}]({url})"
    return f"`{flow_run_id[:8]}`" if flow_run_id else ""


def render_markdown(report: dict[str, Any], *, ui_url: str | None = None) -> str:
    """The report as a person reads it in the Prefect UI: totals, each store with its attempts
    and errors and a link to its run, skips with their reasons, compliance with a legend of the
    codes, and the pools' use over the run."""
    totals = report["totals"]
    title = "Dry run: the stores that would run" if report["dry_run"] else "Store run report"
    lines = [
        f"# {title}",
        "",
        f"State: **{state_text(report)}** · started {human_time(report['started_at'])}"
        + (f" · finished {human_time(report['finished_at'])}" if report["finished_at"] else ""),
        "",
        "| selected | completed | failed | skipped | quarantined |",
        "|---:|---:|---:|---:|---:|",
        f"| {totals['selected']} | {totals['completed']} | {totals['failed']} | "
        f"{totals['skipped']} | {totals['quarantined']} |",
    ]
    if report["stores"]:
        lines += [
            "",
            "## Stores",
            "",
            "| store | status | attempts | started (store's zone) | seconds | jobs | run |",
            "|---|---|---:|---|---:|---|---|",
        ]
        for s in report["stores"]:
            status = s["status"] + (" (quarantined)" if s["quarantined"] else "")
            last = s["flow_run_ids"][-1] if s["flow_run_ids"] else None
            lines.append(
                f"| {s['store_id']} | {status} | {s['attempts']} | "
                f"{_both_zones(s.get('started_at'), s.get('timezone'))} | "
                f"{s['duration_seconds']:.1f} | {_jobs_text(s)} | "
                f"{_run_link(ui_url, last, 'store run')} |"
            )
    retried = [s for s in report["stores"] if len(s.get("attempt_log") or []) > 1 or s["error"]]
    if retried:
        lines += [
            "",
            "## Attempts, retries and errors",
            "",
            "| store | attempt | outcome | finished | error | run |",
            "|---|---:|---|---|---|---|",
        ]
        for s in retried:
            log = s.get("attempt_log") or [
                {"attempt": s["attempts"], "outcome": s["status"], "error": s["error"]}
            ]
            for a in log:
                link = _run_link(ui_url, a.get("flow_run_id"), f"attempt {a['attempt']}")
                lines.append(
                    f"| {s['store_id']} | {a['attempt']} | {a['outcome']} | "
                    f"{_both_zones(a.get('finished_at'), s.get('timezone'))} | "
                    f"{_cell(a['error'])} | {link} |"
                )
            if s["error"] and log and s["error"] != log[-1].get("error"):
                lines.append(f"| {s['store_id']} | | | | {_cell(s['error'])} | |")
    if report["skipped"]:
        lines += [
            "",
            "## Skipped stores",
            "",
            "| store | skipped because | detail | next opens (store's zone) |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {s['store_id']} | {s['reason']} | {_cell(s.get('detail'))} | "
            f"{human_time(s['next_open'])} |"
            for s in report["skipped"]
        ]
    lines += _compliance_lines(report["compliance"])
    lines += _pool_lines(report)
    return "\n".join(lines) + "\n"


def _compliance_lines(compliance: dict[str, Any]) -> list[str]:
    if not compliance["stores"]:
        return []
    rate = compliance["compliance_rate"]
    lines = [
        "",
        "## Compliance",
        "",
        f"{compliance['contacts']} contacts in {compliance['stores']} stores: "
        f"{compliance['callable']} callable, {compliance['invalid']} invalid, "
        f"{compliance['flags_changed']} CRM flags changed, compliance rate "
        f"{'n/a' if rate is None else f'{rate:.1%}'}.",
    ]
    reasons = compliance["blocked_by_reason"]
    if reasons:
        lines += ["", "| blocked because | contacts | meaning |", "|---|---:|---|"]
        lines += [
            f"| {code} | {reasons[code]} | {meaning} |" for code, meaning in legend(list(reasons))
        ]
    return lines


# Eighths of a block: a pool's slots in use as a bar of one character per slice of the run.
_BARS = " ▁▂▃▄▅▆▇█"
CHART_WIDTH = 48


def usage_chart(series: list[list[float]], limit: int, duration: float) -> str:
    """Slots in use over the run, one character per 1/CHART_WIDTH of it (the highest in the
    slice), scaled to the pool's limit: the busy and idle stretches at a glance."""
    if not series or duration <= 0 or limit <= 0:
        return ""
    width = CHART_WIDTH
    peaks = [0.0] * width
    for i, (at, active) in enumerate(series):
        until = series[i + 1][0] if i + 1 < len(series) else duration
        first = min(int(at / duration * width), width - 1)
        last = min(int(max(until - 1e-9, at) / duration * width), width - 1)
        for slot in range(first, last + 1):
            peaks[slot] = max(peaks[slot], active)
    return "".join(_BARS[min(8, round(8 * peak / limit))] for peak in peaks)


def _pool_lines(report: dict[str, Any]) -> list[str]:
    if not report["pools"]:
        return []
    usage = report.get("pool_usage") or {}
    end = report.get("finished_at")
    duration = (
        (datetime.fromisoformat(end) - datetime.fromisoformat(report["started_at"])).total_seconds()
        if end
        else max((s[-1][0] for s in usage.values() if s), default=0.0)
    )
    lines = [
        "",
        "## Pools",
        "",
        f"Slots in use over the run ({duration:.0f} s, left to right; a full block is the limit).",
        "",
        "| pool | limit | peak in use | use over the run |",
        "|---|---:|---:|---|",
    ]
    for name, pool in sorted(report["pools"].items()):
        chart = usage_chart(usage.get(name) or [], int(pool.get("limit") or 0), duration)
        lines.append(
            f"| {name} | {pool.get('limit', '')} | {pool.get('peak_active', '')} | "
            f"{'`' + chart + '`' if chart else ''} |"
        )
    return lines


def state_text(report: dict[str, Any]) -> str:
    """The run's state as people should read it: a run that skipped every store it was asked
    for says so ('nothing ran — skipped: outside window: west (…)'), never a bare success."""
    if report["state"] == SKIPPED:
        return f"nothing ran — {skipped_text(report['skipped'])}"
    return str(report["state"])


def skipped_text(skipped: list[dict[str, Any]]) -> str:
    """'skipped: outside window: west (window 22:00-06:00 …); skipped: disabled: east'."""
    return "; ".join(
        f"skipped: {skip['reason']}: {skip['store_id']}"
        + (f" ({skip['detail']})" if skip.get("detail") else "")
        for skip in skipped
    )


def _skip_text(skip: dict[str, Any]) -> str:
    return f"{skip['reason']} ({skip['detail']})" if skip.get("detail") else skip["reason"]


def _cell(text: str | None) -> str:
    """Free text as one markdown table cell."""
    return _one_line(text, 300).replace("|", "\\|")


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


def find_report(data_dir: Path, run: str) -> dict[str, Any] | None:
    """The report of parent run `run` (its flow run id, or the id's first 8 characters or
    more): the run in progress, else its saved report; None when there is none (yet)."""
    run = run.strip().lower()
    if len(run) < 8:
        raise ValueError(f"run {run!r}: give the flow run id (at least its first 8 characters)")
    current = load_report(data_dir, CURRENT)
    if current is not None and str(current.get("flow_run_id") or "").startswith(run):
        return current
    for path in sorted(reports_dir(data_dir).glob(f"*-{run[:8]}.json"), reverse=True):
        report = json.loads(path.read_text())
        if str(report.get("flow_run_id") or "").startswith(run):
            return report
    return None
