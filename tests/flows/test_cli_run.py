"""`multistore run` runs the parent flow; `status` shows its report, live with --watch."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.app import app as command
from multistore.registry import Registry

pytestmark = pytest.mark.prefect


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_then_status_shows_the_report(prefect_server) -> None:
    registry = Registry()
    registry.add("cli-a", jobs=[], priority="high")
    registry.add("cli-b", jobs=[])
    registry.add("cli-c", jobs=[])

    code, out, err = _invoke("run", "--stores", "cli-a,cli-b", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert [(s["store_id"], s["status"]) for s in report["stores"]] == [
        ("cli-a", "completed"),
        ("cli-b", "completed"),
    ]
    assert registry.history("cli-c") == []

    code, out, err = _invoke("status")
    assert code == 0, err
    assert "last run report:" in out
    assert "run completed: 2 completed, 0 failed" in out

    code, out, err = _invoke("status", "--json")
    assert code == 0, err
    assert json.loads(out)["last_report"]["flow_run_id"] == report["flow_run_id"]


def test_run_with_an_unknown_store_fails_in_one_line(prefect_server) -> None:
    code, out, err = _invoke("run", "--stores", "nope")
    assert code == 1 and out == ""
    assert err == "error: unknown store 'nope'\n"  # refused before any flow run exists


def test_watch_shows_runs_in_progress_and_pool_slots(prefect_server, capsys) -> None:
    import asyncio

    from flows.cli_run import watch_status
    from multistore.pools import load_pools
    from multistore.report import RunReport, StoreEntry, save_progress
    from multistore.settings import get_settings
    from tasks.pools import ensure_pools

    asyncio.run(ensure_pools(load_pools()))
    report = RunReport(flow_run_id="f" * 32, parameters={})
    report.stores = [
        StoreEntry("busy-store", "HIGH", status="running", attempts=2),
        StoreEntry("waiting-store", "LOW"),
        StoreEntry("done-store", "LOW", status="completed", attempts=1, duration_seconds=12.34),
    ]
    save_progress(report, get_settings().data_dir)

    watch_status(iterations=1)

    out = capsys.readouterr().out
    assert "1 running, 1 queued" in out
    assert "busy-store" in out and "waiting-store" in out
    # A finished store stays in view, with how long it took.
    assert "done-store" in out and "completed" in out and "12.3 s" in out
    assert "browser" in out and "api:dnc" in out  # the pools, from the Prefect server


def test_a_store_skipped_by_its_window_never_looks_like_success(prefect_server) -> None:
    """The run's state (grey, named Skipped), its name, its report artifact and `watch` all say
    "skipped: outside window"; `run` and `watch` exit 1."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from prefect import get_client

    now = datetime.now(UTC)
    closed = f"{(now + timedelta(hours=2)):%H:%M}-{(now + timedelta(hours=3)):%H:%M}"
    Registry().add("closed-store", jobs=[], timezone="UTC", window=closed)

    code, out, err = _invoke("run", "--stores", "closed-store", "--json")
    assert code == 1, out + err
    report = json.loads(out)
    assert report["state"] == "skipped" and report["stores"] == []
    run_id = report["flow_run_id"]

    async def read() -> tuple:
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
            artifacts = await client.read_artifacts()
        summary = next(
            a for a in artifacts if a.flow_run_id == run.id and a.key == "store-run-summary"
        )
        return run, summary

    run, summary = asyncio.run(read())
    assert run.state.type.value == "CANCELLED" and run.state.name == "Skipped"
    assert "skipped: outside window: closed-store" in run.state.message
    assert run.name.endswith("— skipped: outside window"), run.name
    assert "State: **nothing ran — skipped: outside window: closed-store" in summary.data

    code, out, err = _invoke("watch", run_id[:8])
    assert code == 1, out + err
    assert "run nothing ran — skipped: outside window: closed-store" in " ".join(out.split())
    assert "skipped: outside window" in out  # the store's own row


def test_watch_follows_one_run_until_it_ends(prefect_server, capsys) -> None:
    from flows.cli_run import watch_status
    from multistore.report import RunReport, StoreEntry, save_final, save_progress
    from multistore.settings import get_settings

    data_dir = get_settings().data_dir
    report = RunReport(flow_run_id="a1b2c3d4" + "0" * 24, parameters={})
    report.stores = [StoreEntry("busy-store", "HIGH", status="running", attempts=1)]
    save_progress(report, data_dir)
    # A later run in progress does not hide the one asked for.
    other = RunReport(flow_run_id="e" * 32, parameters={})
    watch_status(iterations=1, run="a1b2c3d4")
    assert "busy-store" in capsys.readouterr().out

    report.stores[0].status, report.stores[0].duration_seconds = "completed", 4.0
    report.finish()
    save_final(report, data_dir)
    save_progress(other, data_dir)
    code, out, err = _invoke("watch", "a1b2c3d4")
    assert code == 0, out + err  # it stops by itself once the run has ended
    assert "busy-store" in out and "completed" in out and "4.0 s" in out

    code, out, err = _invoke("watch", "ffffffff")
    assert code == 1 and err.startswith("error: run ffffffff: no report under ")


def test_watch_takes_a_run_that_has_no_report_yet_and_ends_with_it(prefect_server) -> None:
    """Right after `prefect deployment run` the run exists on the server but has no report: watch
    waits for it, and a run that ends without one (failed before it started) ends the watch."""
    import asyncio

    from prefect import flow, get_client
    from prefect.states import Failed

    @flow(name="never-started")
    def never_started() -> None: ...

    async def create() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(never_started)
            await client.set_flow_run_state(run.id, Failed(message="bad parameters"), force=True)
            return str(run.id)

    run_id = asyncio.run(create())
    code, _out, err = _invoke("watch", run_id)
    assert code == 1
    assert err == f"error: run {run_id}: ended Failed before writing a report\n"

    missing = "00000000-0000-4000-8000-000000000000"
    code, _out, err = _invoke("watch", missing)
    assert code == 1 and "no such flow run" in err
