"""Trends and grouped errors from the registry's runs; the report's combined job and API totals;
the `history --trend` and `errors` verbs with their bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cli.app import app as command
from multistore import report as reports
from multistore.models import StoreRun
from multistore.registry import Registry
from multistore.trends import group_errors, normalise_error, trend

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def run(store: str, status: str, minutes: int, seconds: float, error: str | None = None):
    started = T0 + timedelta(minutes=minutes)
    return StoreRun(
        id=minutes,
        store_id=store,
        status=status,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
        error=error,
    )


def test_trend_is_oldest_first_with_the_success_rate() -> None:
    data = trend([run("a", "failed", 20, 30, "x"), run("a", "completed", 0, 10)])
    assert data["runs"] == 2 and data["success_rate"] == 0.5
    assert data["outcomes"] == "✓✗"
    assert [r["duration_seconds"] for r in data["rows"]] == [10.0, 30.0]
    assert data["durations"] == "▃█"
    assert trend([])["success_rate"] is None


def test_errors_group_by_their_normalised_message_across_stores() -> None:
    feed = "homenet: HTTP {} on GET /feed after 6 attempts"
    runs = [
        run("north", "failed", 0, 1, "store north: " + feed.format(503)),
        run("south", "failed", 5, 1, "store south: " + feed.format(502)),
        run("north", "failed", 9, 1, "circuit open for dnc until 2026-03-02T04:10:00+00:00"),
        run("east", "completed", 9, 1),
    ]
    groups = group_errors(runs)
    assert [(g["count"], g["stores"]) for g in groups] == [(2, ["north", "south"]), (1, ["north"])]
    assert groups[0]["error"] == "store <store>: homenet: HTTP <n> on GET /feed after <n> attempts"
    assert groups[0]["example"].startswith("store south")  # the latest one
    assert normalise_error("contact 'C-17' at https://x.test/a?b=1") == "contact <value> at <url>"


def test_history_trend_and_errors_verbs() -> None:
    registry = Registry()
    registry.add("north")
    for status in ("completed", "failed"):
        run_id = registry.start_run("north", None)
        registry.finish_run(run_id, status, error="boom 42" if status == "failed" else None)
    runner = CliRunner()

    result = runner.invoke(command, ["history", "north", "--trend", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["runs"], data["success_rate"], data["outcomes"]) == (2, 0.5, "✓✗")

    result = runner.invoke(command, ["errors", "--since", "1h", "--json"])
    assert result.exit_code == 0, result.stderr
    (group,) = json.loads(result.stdout)
    assert (group["error"], group["count"], group["stores"]) == ("boom <n>", 1, ["north"])

    bad = runner.invoke(command, ["errors", "--since", "last week"])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: --since: 'last week' is neither a duration")
    unknown = runner.invoke(command, ["history", "nowhere", "--trend"])
    assert unknown.exit_code == 1 and unknown.stderr == "error: unknown store 'nowhere'\n"


def test_report_combines_jobs_and_api_calls_across_stores() -> None:
    report = reports.RunReport(flow_run_id=None, parameters={})
    north = reports.StoreEntry("north", "HIGH", status=reports.COMPLETED, attempts=2)
    north.started_at, north.finished_at = T0.isoformat(), (T0 + timedelta(seconds=30)).isoformat()
    north.absorb_stats({"jobs": {"a": {"status": "failed"}}, "api": {"dnc": {"calls": 3}}})
    north.absorb_stats(
        {"jobs": {"a": {"status": "completed"}}, "api": {"dnc": {"calls": 2, "retries": 1}}}
    )
    south = reports.StoreEntry("south", "LOW", status=reports.FAILED, attempts=1)
    south.started_at = (T0 + timedelta(seconds=10)).isoformat()
    south.finished_at = (T0 + timedelta(seconds=40)).isoformat()
    jobs = {"a": {"status": "failed"}, "b": {"status": "blocked"}}
    south.absorb_stats({"jobs": jobs, "api": {"crm": {"calls": 4}}})
    never = reports.StoreEntry("east", "LOW")  # never started: not a dealer processed
    report.stores = [north, south, never]

    data = report.to_dict()
    assert data["api"] == {"crm": {"calls": 4}, "dnc": {"calls": 5, "retries": 1}}
    jobs = data["jobs"]
    assert (jobs["dealers_processed"], jobs["total_jobs"], jobs["successful_jobs"]) == (2, 3, 1)
    assert (jobs["failed_jobs"], jobs["blocked_jobs"], jobs["processing_seconds"]) == (1, 1, 40.0)
    assert data["stores"][0]["api"] == {"dnc": {"calls": 5, "retries": 1}}
