"""Schema upgrades: opening an older registry adds the new columns and keeps every store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from multistore import db
from multistore.breaker import BreakerRow
from multistore.config import DEFAULT_JOBS
from multistore.db import dispose_engines, get_engine, session_scope
from multistore.models import Store, StoreRun
from multistore.registry import Priority, Registry
from multistore.schema import ensure_schema, forget_schema_checks

# The registry as an early version wrote it: no jobs, blocks, tags, quarantine or run metrics.
OLD_SCHEMA = [
    """CREATE TABLE stores (
        id VARCHAR(64) PRIMARY KEY,
        name VARCHAR(200) NOT NULL,
        priority VARCHAR(8) NOT NULL,
        enabled BOOLEAN NOT NULL,
        timezone VARCHAR(64) NOT NULL,
        window_start VARCHAR(5),
        window_end VARCHAR(5)
    )""",
    """CREATE TABLE store_runs (
        id {serial} PRIMARY KEY,
        store_id VARCHAR(64) NOT NULL,
        flow_run_id VARCHAR(64),
        started_at TIMESTAMP NOT NULL,
        status VARCHAR(32) NOT NULL
    )""",
    """INSERT INTO stores VALUES
        ('harbor-nissan', 'Harbor Nissan', 'HIGH', TRUE, 'America/New_York', '22:00', '06:00')""",
    """INSERT INTO store_runs (store_id, flow_run_id, started_at, status)
        VALUES ('harbor-nissan', 'flow-1', '2026-01-02 03:04:05', 'completed')""",
]


@pytest.fixture
def pg_registry_url(pg_empty_registry_url: str) -> str:
    """These tests build an old registry on an empty database, not on the template's tables."""
    return pg_empty_registry_url


def _create_old_registry(url: str) -> None:
    database = make_url(url).database
    if url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in OLD_SCHEMA:
            serial = "INTEGER" if url.startswith("sqlite") else "SERIAL"
            conn.execute(text(statement.replace("{serial}", serial)))
    engine.dispose()


def test_an_old_registry_is_upgraded_without_losing_stores(registry_url: str) -> None:
    _create_old_registry(registry_url)

    registry = Registry(registry_url)

    store = registry.get("harbor-nissan")
    assert (store.name, store.priority, store.window_start) == (
        "Harbor Nissan",
        Priority.HIGH,
        "22:00",
    )
    assert store.jobs == list(DEFAULT_JOBS)
    assert store.tags == [] and store.dependencies == {} and store.blocks == {}
    assert store.consecutive_failures == 0 and store.quarantined_at is None
    [run] = registry.history("harbor-nissan")
    assert run.flow_run_id == "flow-1" and run.metrics == {} and run.error is None

    # The upgraded registry works as a new one does.
    registry.record_outcome("harbor-nissan", False, "boom", threshold=1)
    assert registry.get("harbor-nissan").quarantined
    new_run = registry.start_run("harbor-nissan", "flow-2")
    registry.finish_run(new_run, "completed", metrics={"rows": 3})
    assert registry.history("harbor-nissan")[0].metrics == {"rows": 3}


def test_opening_twice_changes_nothing(registry_url: str) -> None:
    _create_old_registry(registry_url)
    Registry(registry_url)
    engine = create_engine(registry_url)
    columns = {c["name"] for c in inspect(engine).get_columns("stores")}
    engine.dispose()

    forget_schema_checks()
    added = ensure_schema(Registry(registry_url).engine, [Store.__table__, StoreRun.__table__])
    assert added == []
    assert "quarantine_reason" in columns and "tags" in columns


def test_workers_upgrading_at_once_all_succeed(registry_url: str) -> None:
    """Several worker processes open the same old registry at the same moment."""
    _create_old_registry(registry_url)
    code = f"from multistore.registry import Registry; Registry({registry_url!r})"
    workers = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert Registry(registry_url).get("harbor-nissan").jobs == list(DEFAULT_JOBS)


def test_an_old_circuit_breakers_table_gets_its_missing_columns(registry_url: str) -> None:
    """get_engine upgrades every table, not only the registry's own two."""
    dispose_engines()
    database = make_url(registry_url).database
    if registry_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    old = create_engine(registry_url)
    with old.begin() as conn:
        conn.execute(
            text(
                """CREATE TABLE circuit_breakers (
                    service VARCHAR(64) PRIMARY KEY,
                    state VARCHAR NOT NULL,
                    failures INTEGER NOT NULL,
                    opened_until TIMESTAMP,
                    probe_started_at TIMESTAMP,
                    last_error VARCHAR
                )"""
            )
        )
        conn.execute(
            text(
                "INSERT INTO circuit_breakers (service, state, failures)"
                " VALUES ('crm', 'closed', 2)"
            )
        )
    old.dispose()

    engine = get_engine(registry_url)

    columns = {c["name"] for c in inspect(engine).get_columns("circuit_breakers")}
    assert "times_opened" in columns
    with session_scope(registry_url) as session:
        row = session.get(BreakerRow, "crm")
        assert (row.state, row.failures, row.times_opened) == ("closed", 2, 0)


def test_threads_opening_one_registry_share_one_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_create = db._create_tables

    def slow(engine):  # type: ignore[no-untyped-def]
        time.sleep(0.05)  # wide enough for every thread to arrive while the first one builds
        slow_create(engine)

    monkeypatch.setattr(db, "_create_tables", slow)
    url = f"sqlite:///{tmp_path / 'threads.db'}"
    start = threading.Barrier(6)
    engines = []

    def open_registry() -> None:
        start.wait()
        engines.append(get_engine(url))

    threads = [threading.Thread(target=open_registry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engines) == 6 and len({id(e) for e in engines}) == 1
    dispose_engines()
