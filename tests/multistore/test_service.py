"""`multistore serve`: /metrics read back from the registry, /health on real parts, the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from multistore.prefect_api import PrefectAPI
from multistore.registry import Registry
from multistore.service import create_app
from tests.fixtures.postgres import drop_pg_database

MULTISTORE = Path(sys.executable).parent / "multistore"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample as (name, sorted labels) → value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def finish(registry: Registry, store: str, status: str, metrics: dict) -> None:
    registry.finish_run(registry.start_run(store, None), status, metrics=metrics)


def test_metrics_are_the_registry_read_back() -> None:
    registry = Registry()
    registry.add("north", region="west", priority="high")
    registry.add("south")
    run = {
        "successful_jobs": 4,
        "failed_jobs": 1,
        "blocked_jobs": 0,
        "compliance": {"contacts": 120, "flags_changed": 7},
        "api": {"dnc": {"calls": 9, "rate_limited": 2, "retries": 3, "server_errors": 1}},
    }
    finish(registry, "north", "completed", run)
    finish(registry, "north", "failed", {**run, "compliance": {"contacts": 30}})
    finish(registry, "south", "completed", {"successful_jobs": 5})
    registry.record_outcome("north", False, "boom", threshold=5)

    client = TestClient(create_app(prefect=PrefectAPI("")))
    response = client.get("/metrics")
    assert response.status_code == 200
    got = samples(response.text)
    north, south = (("store", "north"),), (("store", "south"),)
    assert got["multistore_store_runs_total", north] == 2
    assert got["multistore_store_successes_total", north] == 1
    assert got["multistore_store_failures_total", north] == 1
    assert got["multistore_store_runs_total", south] == 1
    assert got["multistore_contacts_processed_total", north] == 150
    assert got["multistore_flags_changed_total", north] == 7
    assert got["multistore_jobs_total", (("outcome", "successful"), ("store", "north"))] == 8
    assert got["multistore_jobs_total", (("outcome", "successful"), ("store", "south"))] == 5
    dnc_north = (("store", "north"), ("vendor", "dnc"))
    assert got["multistore_api_calls_total", dnc_north] == 18
    assert got["multistore_api_rate_limited_total", dnc_north] == 4
    assert got["multistore_api_retries_total", dnc_north] == 6
    assert got["multistore_api_server_errors_total", dnc_north] == 2
    assert got["multistore_store_consecutive_failures", north] == 1
    info = (("enabled", "true"), ("priority", "HIGH"), ("region", "west"), ("store", "north"))
    assert got["multistore_store_info", info] == 1
    assert got["multistore_up", (("part", "registry"),)] == 1
    assert got["multistore_up", (("part", "prefect"),)] == 0  # PREFECT_API_URL not set


def test_a_scrape_reads_only_the_runs_finished_since_the_last_one() -> None:
    from datetime import timedelta

    from multistore.clock import ManualClock
    from multistore.metrics import RegistryCollector, RunTotals

    registry = Registry()
    registry.add("north")
    registry.add("south")
    for _ in range(50):
        finish(registry, "north", "completed", {"successful_jobs": 2})
    still_running = registry.start_run("south", None)
    finish(registry, "south", "failed", {"failed_jobs": 1})
    clock = ManualClock(datetime.now(UTC) + timedelta(minutes=5))
    totals = RunTotals(clock=clock)
    collector = RegistryCollector(prefect=PrefectAPI(""), totals=totals)

    def scrape() -> dict[tuple[str, tuple], float]:
        from prometheus_client import CollectorRegistry, generate_latest

        one = CollectorRegistry(auto_describe=False)
        one.register(collector)
        return samples(generate_latest(one).decode())

    first = scrape()
    assert first["multistore_store_runs_total", (("store", "north"),)] == 50
    assert first["multistore_store_failures_total", (("store", "south"),)] == 1
    # The whole history once: the ids and states (52 rows), the 51 finished runs' statistics.
    assert totals.rows_read == 52 + 51
    assert totals.watermark == 50  # the still-running run (id 51) holds it

    before = totals.rows_read
    assert scrape() == first
    # Again: only the rows from the running run on (its id and state, and the run after it).
    assert totals.rows_read - before == 2

    registry.finish_run(still_running, "completed", metrics={"successful_jobs": 3})
    finish(registry, "north", "failed", {})
    before = totals.rows_read
    third = scrape()
    assert third["multistore_store_runs_total", (("store", "south"),)] == 2
    assert third["multistore_store_successes_total", (("store", "south"),)] == 1
    assert third["multistore_jobs_total", (("outcome", "successful"), ("store", "south"))] == 3
    assert third["multistore_store_failures_total", (("store", "north"),)] == 1
    # 3 ids and states read, 2 runs' statistics (the one after the running run was folded).
    assert totals.rows_read - before == 3 + 2
    before = totals.rows_read
    assert scrape() == third
    assert totals.rows_read - before == 0  # every run final and settled: nothing to read

    # A fresh process (another `serve`, a restart) reads the history once and agrees. Its runs
    # started less than SETTLE ago by the real clock, so they stay above its watermark: read
    # again as ids and states, never folded twice.
    fresh = RunTotals()

    def sums(run_totals: RunTotals) -> dict:
        stores = run_totals.refresh({"north", "south"})
        return {k: (dict(v.counts), dict(v.jobs), v.last_success) for k, v in stores.items()}

    assert sums(fresh) == sums(totals) == sums(fresh)
    assert fresh.watermark == 0

    registry.remove("south")  # its runs go with it, and so do its counters
    assert ("multistore_store_runs_total", (("store", "south"),)) not in scrape()


@pytest.mark.postgres
@pytest.mark.prefect
def test_health_is_503_naming_the_registry_when_its_database_is_gone(
    pg_registry_url: str, prefect_server
) -> None:  # type: ignore[no-untyped-def]
    Registry().add("north", region="west")
    client = TestClient(create_app(prefect=PrefectAPI(prefect_server.url)))
    up = client.get("/health")
    assert up.status_code == 200, up.text
    assert [s["id"] for s in up.json()["stores"]] == ["north"]

    name = pg_registry_url.rsplit("/", 1)[1]
    drop_pg_database(name)  # the database is gone, open connections killed
    down = client.get("/health")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith("registry database postgresql+psycopg://")
    assert name in body["reasons"][0] and "not reachable" in body["reasons"][0]
    # /metrics still answers, saying the registry is down.
    assert samples(client.get("/metrics").text)["multistore_up", (("part", "registry"),)] == 0


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {**env, **extra}


def test_serve_answers_on_loopback_and_stops(isolated_settings: Path) -> None:
    Registry().add("north")
    server = subprocess.Popen(
        [str(MULTISTORE), "serve", "--port", "0"],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert line.startswith("multistore serve: http://127.0.0.1:"), line
        url = line.split()[2]
        health = httpx.get(f"{url}/health", timeout=30)
        assert health.status_code == 503  # no Prefect server configured: said so
        assert health.json()["reasons"] == ["Prefect server: PREFECT_API_URL is not set"]
        assert [s["id"] for s in health.json()["stores"]] == ["north"]
        assert "multistore_store_info" in httpx.get(f"{url}/metrics", timeout=30).text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_on_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(MULTISTORE), "serve", "--port", str(port)],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_health_json_and_exit_code() -> None:
    Registry().add("north")
    result = subprocess.run(
        [str(MULTISTORE), "health", "--json"], env=_env(), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["stores"][0]["id"] == "north"
    # With --json the error line on stderr is JSON too (the CLI's error contract).
    assert result.stderr == '{"error": "Prefect server: PREFECT_API_URL is not set"}\n'

    assert datetime.fromisoformat(json.loads(result.stdout)["checked_at"]) <= datetime.now(UTC)


def test_logs_bad_input_is_one_line() -> None:
    from typer.testing import CliRunner

    from cli.app import app as command

    Registry().add("north")
    runner = CliRunner()
    unknown = runner.invoke(command, ["logs", "nowhere"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: unknown store 'nowhere'\n"
    malformed = runner.invoke(command, ["logs", "north", "--since", "yesterday"])
    assert malformed.exit_code == 1
    assert malformed.stderr == (
        "error: --since: 'yesterday' is neither a duration (30m, 2h, 7d) nor an ISO date/time\n"
    )
    # A store without runs has no lines (and needs no server to say so).
    empty = runner.invoke(command, ["logs", "north", "--json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []


def test_since_takes_durations_and_iso_times() -> None:
    from datetime import timedelta

    from multistore.cli_ops import parse_since

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-03-01T08:00", now) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert parse_since(None, now) is None
