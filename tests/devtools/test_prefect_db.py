"""The migrated databases a new Prefect server starts from (devtools/prefect_db.py)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from devtools import prefect_db
from devtools.pgadmin import database_url
from multistore.settings import get_settings
from tests.fixtures.postgres import create_prefect_pg_database, drop_pg_database


def _head(dialect: str) -> str:
    """The newest migration of Prefect's own scripts for `dialect`."""
    import prefect.server.database
    from alembic.script import ScriptDirectory

    migrations = Path(prefect.server.database.__file__).parent / "_migrations"
    scripts = ScriptDirectory(
        str(migrations), version_locations=[str(migrations / "versions" / dialect)]
    )
    (head,) = scripts.get_heads()
    return head


def _pg_databases(like: str) -> list[str]:
    engine = create_engine(get_settings().pg_admin_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT datname FROM pg_database WHERE datname LIKE :like")
            return list(conn.scalars(query, {"like": like}))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_new_postgres_database_for_a_server_is_migrated_to_prefects_head() -> None:
    name = create_prefect_pg_database("prefect_db_test")
    engine = create_engine(database_url(name))
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == _head(
                "postgresql"
            )
            assert conn.scalar(text("SELECT count(*) FROM flow_run")) == 0
    finally:
        engine.dispose()
        drop_pg_database(name)


def test_a_new_sqlite_home_gets_a_migrated_copy_and_an_existing_database_is_kept(
    tmp_path: Path,
) -> None:
    prefect_db.seed_sqlite(tmp_path / "new")
    with sqlite3.connect(tmp_path / "new" / "prefect.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            _head("sqlite"),
        )
        assert conn.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
    conn.close()

    # A server restarted on its home keeps its runs: a database already there is not replaced.
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "prefect.db").write_bytes(b"a server's runs")
    prefect_db.seed_sqlite(tmp_path / "kept")
    assert (tmp_path / "kept" / "prefect.db").read_bytes() == b"a server's runs"


@pytest.mark.postgres
def test_a_migration_cut_short_leaves_nothing_a_later_server_would_start_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = f"test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(prefect_db, "_tag", lambda: tag)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def cut_short(connection_url: str) -> None:
        if connection_url.startswith("sqlite"):
            Path(connection_url.split("///", 1)[1]).write_bytes(b"half a database")
        raise RuntimeError("migrating a Prefect database failed: killed")

    monkeypatch.setattr(prefect_db, "_upgrade", cut_short)
    with pytest.raises(RuntimeError, match="killed"):
        prefect_db.migrated_sqlite()
    assert [p.name for p in (tmp_path / "multistore").iterdir()] == [f"prefect-{tag}.db.lock"]
    with pytest.raises(RuntimeError, match="killed"):
        prefect_db.prefect_template()
    assert _pg_databases(f"prefect_template_{tag}%") == []
