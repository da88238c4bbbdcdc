"""The orchestrator's own hiccups fail no store (#11 item 4), and health says when they would leak.

A real Prefect server on a PostgreSQL database of its own, with filesystem lease storage, is
stopped while a store run (its own process, as a worker would start it) is inside a DNC scrub
call, and started again on the same port once the run has found it gone. The store completes,
its results file is written, its run is Completed on the server and no pool slot stays held; what
the run logged about the outage names the Prefect server, not the vendor.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from devtools.local import Managed, free_port, start_prefect_server
from multistore.health import DEGRADED, OK, check_health
from multistore.prefect_api import MEMORY_LEASE_STORAGE, PrefectAPI
from multistore.registry import Registry
from tests.fixtures.postgres import create_prefect_pg_database, drop_pg_database, pg_url
from tests.fixtures.prefect_server import ROOT, PgPrefect

pytestmark = [pytest.mark.postgres, pytest.mark.prefect]

STORE = "outage-dealer"
CONTACTS = 10  # the proof is one scrub call under the restart, not the volume
SCRUB_LATENCY_MS = 6000  # the scrub call the server goes away under


class RestartableServer:
    """A Prefect server on a fixed port and database that can be stopped and started again."""

    def __init__(self, home: Path, database_url: str) -> None:
        self.home, self.database_url, self.port = home, database_url, free_port()
        self.process: Managed | None = None
        self.url = f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.process = start_prefect_server(
            self.home, port=self.port, database_url=self.database_url, timeout=120
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture
def pg_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RestartableServer]:
    from multistore.settings import reset_settings

    name = create_prefect_pg_database("outage_prefect")
    server = RestartableServer(tmp_path / "prefect", pg_url(name, driver="asyncpg"))
    try:
        server.start()
        monkeypatch.setenv("PREFECT_API_URL", server.url)
        reset_settings()
        yield server
    finally:
        server.stop()
        drop_pg_database(name)


async def _until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Wait for a real event (polled), failing with `what` after a generous `timeout`."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        await asyncio.sleep(0.2)


@pytest.mark.browser
async def test_a_store_run_outlasts_a_prefect_server_restart(
    pg_server: RestartableServer, sandbox, isolated_settings: Path, tmp_path: Path, monkeypatch
) -> None:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.setup import setup

    monkeypatch.setattr(sandbox.state.config, "contacts_per_store", CONTACTS)
    registry = Registry()
    registry.add(STORE, jobs=["dnc_compliance"])
    with temporary_settings(updates={PREFECT_API_URL: pg_server.url}):
        await setup(seed_sandbox=True)
    sandbox.admin.set_faults([{"vendor": "dnc", "latency_ms": SCRUB_LATENCY_MS}])

    log = tmp_path / "store-run.log"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "run-home")}
    with log.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "flows.store_pipeline", STORE],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await _until(
            lambda: sandbox.admin.vendor_counts("dnc")["delayed"] > 0 or run.poll() is not None,
            timeout=240,
            what="the store's first scrub call",
        )
        assert run.poll() is None, log.read_text()[-3000:]
        await asyncio.to_thread(pg_server.stop)  # while the scrub call holds its api:dnc slot
        await _until(
            lambda: "unreachable while" in log.read_text() or run.poll() is not None,
            timeout=300,
            what="the store run to find the Prefect server gone",
        )
        await asyncio.to_thread(pg_server.start)
        await _until(lambda: run.poll() is not None, timeout=600, what="the store run to end")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
    output = log.read_text()
    assert run.returncode == 0, output[-4000:]
    assert f"store {STORE}: 1/1 jobs completed" in output, output[-4000:]

    # What it said about the outage names the Prefect server, not the vendor.
    said = [line for line in output.splitlines() if "unreachable while" in line]
    assert said, output[-4000:]
    assert f"Prefect server {pg_server.url} unreachable while" in said[0], said
    assert "answers again" in output, output[-4000:]

    (row,) = registry.history(STORE)
    assert row.status == "completed", row.error
    today = datetime.now(UTC).date().isoformat()
    results = isolated_settings / "compliance" / f"store_id={STORE}" / f"date={today}"
    assert (results / "results.parquet").is_file(), sorted(isolated_settings.rglob("*"))
    with temporary_settings(updates={PREFECT_API_URL: pg_server.url}):
        async with get_client() as client:
            flow_run = await client.read_flow_run(row.flow_run_id)
    assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
    held = {p.name: p.active_slots for p in PrefectAPI(pg_server.url).pools() if p.active_slots}
    assert held == {}, f"slots still held after the run: {held}"


def test_health_warns_when_the_server_keeps_slot_leases_in_memory(
    pg_prefect_server: PgPrefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    # Ours (filesystem lease storage, as devtools.local starts every server): no warning. The
    # worker tests' shared server is one (a server of its own would cost ~6 s of CPU to start).
    api = PrefectAPI(pg_prefect_server.url)
    assert api.lease_storage() == "prefect.server.concurrency.lease_storage.filesystem"
    ours = check_health(now, prefect=api)
    assert (ours.status, ours.warnings) == (OK, [])

    # A server answers /admin/settings with its own settings (read above, at the key health
    # reads), and Prefect's default, when nobody sets the lease storage, is in memory: the value
    # a server started without our environment reports. Here the real server's answer, with that
    # default in it: a restart would leak its held slots. (Starting a server of its own for this
    # would cost ~6 s of CPU more.)
    from prefect.settings import Settings

    monkeypatch.delenv("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", raising=False)
    assert Settings().server.concurrency.lease_storage == MEMORY_LEASE_STORAGE

    upstream = httpx.Client(timeout=30)

    def default_leases(request: httpx.Request) -> httpx.Response:
        answer = upstream.send(
            upstream.build_request(request.method, request.url, content=request.content)
        )
        if request.url.path.endswith("/admin/settings"):
            settings = answer.json()
            settings["server"]["concurrency"]["lease_storage"] = MEMORY_LEASE_STORAGE
            return httpx.Response(answer.status_code, json=settings)
        kind = answer.headers.get("content-type", "application/json")
        return httpx.Response(
            answer.status_code, content=answer.content, headers={"content-type": kind}
        )

    with upstream, httpx.Client(transport=httpx.MockTransport(default_leases)) as http:
        memory = PrefectAPI(pg_prefect_server.url, http=http)
        health = check_health(now, prefect=memory)
    assert health.status == DEGRADED and health.http_status == 200
    assert health.reasons == []
    (warning,) = health.warnings
    assert warning.startswith(
        f"Prefect server {memory.url} keeps concurrency slot leases in memory"
    )
    assert "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=" in warning
