"""The run report without Prefect: totals, compliance added up, markdown, rows, files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from multistore import report as reports


def _report() -> reports.RunReport:
    run = reports.RunReport(flow_run_id="abcdef0123", parameters={"max_retries": 2})
    ok = reports.StoreEntry("north", "HIGH", status=reports.COMPLETED, attempts=1)
    ok.absorb_stats(
        {
            "jobs": {
                "dnc_compliance": {"status": "completed"},
                "homenet_feed": {"status": "completed"},
            },
            "compliance": {
                "contacts": 100,
                "callable": 60,
                "invalid": 5,
                "flags_changed": 7,
                "compliance_rate": 1.0,
                "blocked_by_reason": {"federal DNC": 20, "internal": 15},
            },
        }
    )
    partial = reports.StoreEntry("south", "MEDIUM", status=reports.COMPLETED, attempts=2)
    partial.absorb_stats(
        {
            "jobs": {"dnc_compliance": {"status": "completed"}},
            "compliance": {
                "contacts": 300,
                "callable": 200,
                "compliance_rate": 0.5,
                "blocked_by_reason": {"federal DNC": 100},
            },
        }
    )
    failed = reports.StoreEntry(
        "east", "LOW", status=reports.FAILED, attempts=3, error="store east:\n failed: x"
    )
    failed.absorb_stats(
        {"jobs": {"homenet_feed": {"status": "failed"}, "dealercom_feed": {"status": "blocked"}}}
    )
    failed.quarantined = True
    run.stores = [ok, partial, failed]
    run.skipped = [
        reports.SkipEntry(
            "west", "outside window", "2026-11-24T22:00:00-08:00", "window 22:00-06:00"
        )
    ]
    run.pools = {"browser": {"limit": 4, "peak_active": 3}}
    run.finish()
    return run


def test_totals_state_and_compliance_weighted_by_contacts() -> None:
    data = _report().to_dict()
    assert data["state"] == "failed"
    assert data["totals"] == {
        "selected": 3,
        "completed": 2,
        "failed": 1,
        "not_started": 0,
        "running": 0,
        "queued": 0,
        "skipped": 1,
        "quarantined": 1,
    }
    compliance = data["compliance"]
    assert compliance["stores"] == 2 and compliance["contacts"] == 400
    assert compliance["callable"] == 260 and compliance["flags_changed"] == 7
    assert compliance["blocked_by_reason"] == {"federal DNC": 120, "internal": 15}
    assert compliance["compliance_rate"] == pytest.approx((100 * 1.0 + 300 * 0.5) / 400)
    east = data["stores"][2]
    assert (east["jobs_completed"], east["jobs_failed"], east["jobs_blocked"]) == (0, 1, 1)


def test_rows_and_markdown_name_every_store_and_why() -> None:
    data = _report().to_dict()
    rows = reports.table_rows(data)
    assert [r["store"] for r in rows] == ["north", "south", "east", "west"]
    assert rows[2]["status"] == "failed (quarantined)"
    assert rows[2]["errors"] == "store east: failed: x"  # one line
    assert rows[2]["jobs"] == "0 done, 1 failed, 1 blocked"
    assert rows[3]["status"] == "skipped"
    # A skip's reason has a column of its own; the errors column is for failures only.
    assert rows[3]["errors"] == ""
    assert rows[3]["skipped_because"] == (
        "outside window (window 22:00-06:00) (next opens 2026-11-25 06:00:00 UTC)"
    )
    text = reports.render_markdown(data)
    assert "| 3 | 2 | 1 | 1 | 1 |" in text
    assert "## Compliance" in text and "62.5%" in text
    assert "| browser | 4 | 3 |" in text
    assert "| east | 3 | failed | " in text and "store east: failed: x" in text
    assert "| west | outside window | window 22:00-06:00 | 2026-11-25 06:00:00 UTC |" in text


def _retried_report() -> dict:
    """sunset-ford (New York) failed once on a vendor 503, then completed on attempt 2."""
    run = reports.RunReport(
        flow_run_id="parent-1", parameters={}, started_at="2026-11-29T14:00:00.123456+00:00"
    )
    entry = reports.StoreEntry("sunset-ford", "HIGH", timezone="America/New_York")
    entry.started_at = "2026-11-29T14:00:01.654321+00:00"
    entry.record_attempt(
        1, flow_run_id="run-a1", ok=False, error="homenet_feed: HTTP 503", started_at=None
    )
    entry.record_attempt(2, flow_run_id="run-a2", ok=True, error=None, started_at=None)
    entry.flow_run_ids = ["run-a1", "run-a2"]
    entry.status, entry.attempts = reports.COMPLETED, 2
    entry.compliance = {"contacts": 10, "callable": 4, "blocked_by_reason": {"D": 3, "P": 2}}
    run.stores = [entry]
    run.finish()
    return run.to_dict()


def test_a_store_that_succeeded_on_a_retry_shows_the_first_attempts_error() -> None:
    data = _retried_report()
    [row] = reports.table_rows(data)
    assert row["status"] == "completed" and row["attempts"] == 2
    assert row["errors"] == "attempt 1: homenet_feed: HTTP 503; attempt 2: completed"
    text = reports.render_markdown(data, ui_url="http://127.0.0.1:4200")
    assert "## Attempts, retries and errors" in text
    assert "| sunset-ford | 1 | failed | " in text and "homenet_feed: HTTP 503" in text
    assert "| sunset-ford | 2 | completed | " in text
    # Each attempt's child run, linked to its page in the Prefect UI.
    assert "[attempt 1](http://127.0.0.1:4200/runs/flow-run/run-a1)" in text
    assert "[store run](http://127.0.0.1:4200/runs/flow-run/run-a2)" in text


def test_times_in_the_stores_zone_and_utc_without_microseconds() -> None:
    data = _retried_report()
    [row] = reports.table_rows(data)
    assert row["started"] == "2026-11-29 09:00:01 EST (14:00:01 UTC)"
    text = reports.render_markdown(data)
    assert "started 2026-11-29 14:00:00 UTC" in text
    assert ".123456" not in text and ".654321" not in text and "+00:00" not in text


def test_dnc_codes_have_a_legend() -> None:
    data = _retried_report()
    data["compliance"] = {**data["compliance"], "stores": 1, "blocked_by_reason": {"D": 3, "P": 2}}
    text = reports.render_markdown(data)
    assert "| blocked because | contacts | meaning |" in text
    assert "| D | 3 | on a federal or state do-not-call list" in text
    assert "| P | 2 | on the company's internal do-not-call list |" in text


def test_pool_usage_over_the_run_is_a_small_chart() -> None:
    start = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
    run = reports.RunReport(flow_run_id="p", parameters={}, started_at=start.isoformat())
    # Busy (4 of 4) for the first quarter, idle, then 2 of 4 for the last quarter.
    for second, active in [(0, 4), (10, 4), (25, 0), (30, 0), (75, 2), (99, 2)]:
        run.sample_pool("browser", 4, active, at=start + timedelta(seconds=second))
    run.finish()
    run.finished_at = (start + timedelta(seconds=100)).isoformat()
    data = run.to_dict()
    assert data["pools"]["browser"] == {"limit": 4, "peak_active": 4}
    assert data["pool_usage"]["browser"] == [[0.0, 4], [25.0, 0], [75.0, 2]]  # changes only
    chart = reports.usage_chart(data["pool_usage"]["browser"], 4, 100.0)
    assert len(chart) == reports.CHART_WIDTH
    assert chart == "█" * 12 + " " * 24 + "▄" * 12
    assert f"| browser | 4 | 4 | `{chart}` |" in reports.render_markdown(data)


def test_a_run_with_every_store_completed_is_completed() -> None:
    run = reports.RunReport(flow_run_id=None, parameters={})
    run.stores = [reports.StoreEntry("only", "HIGH", status=reports.COMPLETED)]
    run.finish()
    assert run.state == "completed"


def test_saved_reports_and_a_damaged_file(tmp_path: Path) -> None:
    run = _report()
    assert reports.load_report(tmp_path) is None
    reports.save_progress(run, tmp_path)
    assert reports.load_report(tmp_path, reports.CURRENT)["flow_run_id"] == "abcdef0123"
    assert reports.load_report(tmp_path) is None  # nothing finished yet
    path = reports.save_final(run, tmp_path)
    assert path.name.endswith("-abcdef01.json")
    assert reports.load_report(tmp_path) == reports.load_report(tmp_path, path.name)
    (tmp_path / "reports" / "latest.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"latest.json: not a report \(.* at line 1\)"):
        reports.load_report(tmp_path)


def test_two_local_saves_in_the_same_second_keep_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = reports._now()
    monkeypatch.setattr(reports, "_now", lambda: frozen)  # same second, same microsecond
    run = _report()
    run.flow_run_id = None
    first = reports.save_final(run, tmp_path)
    second = reports.save_final(run, tmp_path)
    assert first != second
    assert first.exists() and second.exists()
    assert "-local" in first.name and "-local" in second.name


def test_a_failing_report_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    run = _report()
    path = reports.save_progress(run, tmp_path)
    before = path.read_text()
    loop: list = []
    loop.append(loop)
    run.parameters = {"loop": loop}  # json.dump writes part of the file, then fails
    with pytest.raises(ValueError, match="Circular"):
        reports.save_progress(run, tmp_path)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == [reports.CURRENT]


def test_watch_rows_keep_finished_stores_with_elapsed_time_and_outcome() -> None:
    now = datetime(2026, 11, 29, 14, 10, tzinfo=UTC)
    run = reports.RunReport(flow_run_id="p", parameters={})
    running = reports.StoreEntry("running-1", "HIGH", status=reports.RUNNING, attempts=1)
    running.started_at = (now - timedelta(seconds=75)).isoformat()
    done = reports.StoreEntry("done-1", "LOW", status=reports.COMPLETED, attempts=2)
    done.duration_seconds = 8.25
    done.record_attempt(1, flow_run_id="r1", ok=False, error="HTTP 503", started_at=None)
    done.record_attempt(2, flow_run_id="r2", ok=True, error=None, started_at=None)
    failed = reports.StoreEntry("failed-1", "LOW", status=reports.FAILED, attempts=1, error="boom")
    failed.duration_seconds = 3725
    run.stores = [done, failed, running]
    run.skipped = [reports.SkipEntry("closed-1", "outside window", detail="window 22:00-06:00")]
    rows = reports.watch_rows(run.to_dict(), now)
    assert [(r["store"], r["status"], r["elapsed"]) for r in rows] == [
        ("running-1", "running", "1 min 15 s"),
        ("done-1", "completed", "8.2 s"),
        ("failed-1", "failed", "1 h 02 min"),
        ("closed-1", "skipped: outside window", ""),
    ]
    assert rows[1]["outcome"] == "attempt 1: HTTP 503; attempt 2: completed"
    assert rows[2]["outcome"] == "boom" and rows[3]["outcome"] == "window 22:00-06:00"
