"""Prefect's own database, migrated once per Prefect version and copied for every new server.

A Prefect server on a new database runs all of its migrations before it answers: measured on the
2-core machine, 8.9 s of CPU to start on a new SQLite file against 4.8 s on a migrated copy, and
5.0 s against 3.9 s on PostgreSQL (plus PostgreSQL's own work). The tests, the benchmarks and the
demo start a dozen servers, so the migrated database is kept, per Prefect version (migrations
change only with it): a SQLite file in the user's cache directory, and on PostgreSQL a template
database, `prefect_template_<version>`, that each new database is copied from. Both are made
whole under another name and then renamed, so a build cut short is never used.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from importlib.metadata import version
from pathlib import Path

from devtools import PREFECT
from devtools.pgadmin import (
    advisory_lock,
    create_database,
    database_exists,
    database_url,
    drop_database,
    ensure_database,
    rename_database,
)


def _tag() -> str:
    return version("prefect").replace(".", "_").replace("+", "_")


def _upgrade(connection_url: str) -> None:
    """`prefect server database upgrade` on `connection_url`: every migration, no server."""
    with tempfile.TemporaryDirectory(prefix="multistore-prefect-db-") as home:
        env = {
            **os.environ,
            "PREFECT_HOME": home,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": connection_url,
        }
        done = subprocess.run(
            [PREFECT, "--no-prompt", "server", "database", "upgrade", "-y"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise RuntimeError("migrating a Prefect database failed:\n" + "\n".join(tail))


def migrated_sqlite() -> Path:
    """The migrated SQLite file of this Prefect version (made on first use; processes that ask at
    once wait for the one making it)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "multistore"
    path = cache / f"prefect-{_tag()}.db"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            building = path.with_suffix(".building")
            try:
                _upgrade(f"sqlite+aiosqlite:///{building}")
                os.replace(building, path)
            finally:
                building.unlink(missing_ok=True)
    return path


def seed_sqlite(home: Path) -> None:
    """Give the server whose PREFECT_HOME is `home` a migrated copy, unless it has a database."""
    target = home / "prefect.db"  # Prefect's default: sqlite+aiosqlite:///$PREFECT_HOME/prefect.db
    if target.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    copy = home / "prefect.db.copying"
    shutil.copyfile(migrated_sqlite(), copy)
    os.replace(copy, target)


def prefect_template() -> str:
    """The name of the PostgreSQL template database of this Prefect version (made on first use;
    processes that ask at once wait for the one making it)."""
    name = f"prefect_template_{_tag()}"
    if database_exists(name):
        return name
    with advisory_lock(name):
        if not database_exists(name):
            building = create_database(f"{name}_building")
            try:
                _upgrade(database_url(building, driver="asyncpg"))
                rename_database(building, name)
            except BaseException:
                drop_database(building)
                raise
    return name


def create_prefect_database(prefix: str) -> str:
    """A new PostgreSQL database `<prefix>_<random>` for a Prefect server, already migrated."""
    return create_database(prefix, template=prefect_template())


def ensure_prefect_database(name: str) -> bool:
    """PostgreSQL database `name` for a Prefect server, created migrated unless it exists; True
    when it was created."""
    return ensure_database(name, template=prefect_template())
