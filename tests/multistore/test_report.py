"""The run report without Prefect: totals, compliance added up, markdown, rows, files."""

from __future__ import annotations

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
    assert rows[2]["error"] == "store east: failed: x"  # one line
    assert rows[3]["status"] == "skipped"
    assert rows[3]["error"].startswith("outside window (window 22:00-06:00) (next opens 2026-11-24")
    text = reports.render_markdown(data)
    assert "| 3 | 2 | 1 | 1 | 1 |" in text
    assert "## Compliance" in text and "62.5%" in text
    assert "| browser | 4 | 3 |" in text
    assert "| east (quarantined) | 3 | store east: failed: x |" in text
    assert "| west | outside window (window 22:00-06:00) |" in text


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
