"""What the benchmarks that run flows against many-machine infrastructure share.

`prefect_stack` starts a Prefect server on a new PostgreSQL database (SQLite answers 503 under a
benchmark's load), optionally the registry on another, and the sandbox in a subprocess; points
this process at them (Prefect's home and API, the data directory, the sandbox, the registry) and,
on the way out, stops every process it was handed and drops the databases. One copy, so that the
benchmarks set things up and tear them down the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devtools.local import (
    Managed,
    engine_answers,
    free_port,
    spawn,
    start_dockerd,
    start_prefect_server,
    stop_all,
    wait_http,
)
from devtools.pgadmin import create_database, database_url, drop_database
from devtools.prefect_db import create_prefect_database
from multistore.db import dispose_engines
from multistore.settings import reset_settings


@dataclass
class Stack:
    server: Managed
    sandbox_url: str
    # Stopped in reverse order on the way out: a benchmark appends the workers it starts.
    managed: list[Managed] = field(default_factory=list)
    server_home: Path | None = None
    server_database_url: str | None = None

    def restart_server(self, down_seconds: float) -> float:
        """Stop the Prefect server, leave it down `down_seconds`, start it again on the same
        port, database and home (its lease storage with them); how long it did not answer."""
        assert self.server_home is not None
        port = int(self.server.url.rsplit(":", 1)[1].split("/", 1)[0])
        began = time.monotonic()
        self.server.stop()
        time.sleep(down_seconds)
        server = start_prefect_server(
            self.server_home, port=port, database_url=self.server_database_url, timeout=180
        )
        self.managed[self.managed.index(self.server)] = server
        self.server = server
        return time.monotonic() - began


@contextmanager
def prefect_stack(
    work: Path, *, prefix: str, registry: bool = False, sandbox_args: tuple[str, ...] = ()
) -> Iterator[Stack]:
    """The server (database `<prefix>_prefect_…`), with `registry` the registry (database
    `<prefix>_registry_…`), and the sandbox (`python -m sandbox` with `sandbox_args`); logs and
    Prefect's home under `work`."""
    databases: list[str] = []
    managed: list[Managed] = []
    try:
        databases.append(create_prefect_database(f"{prefix}_prefect"))
        if registry:
            databases.append(create_database(f"{prefix}_registry"))
        # The sandbox starts while the server does (neither needs the other); the server stays
        # first in `managed`, for the stop below.
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)]
        sandbox = spawn(
            "sandbox", [*argv, *sandbox_args], env=dict(os.environ), log=work / "sandbox.log"
        )
        server_database_url = database_url(databases[0], "asyncpg")
        try:
            server = start_prefect_server(
                work / "prefect", database_url=server_database_url, timeout=120
            )
        except BaseException:
            sandbox.stop()
            raise
        managed.extend((server, sandbox))
        wait_http(f"{sandbox_url}/admin/counters", process=sandbox.process)

        # This process runs the flows (and its workers inherit the environment): point Prefect,
        # the data and the sandbox (and the registry) at the benchmark's own.
        os.environ.update(
            {
                "PREFECT_HOME": str(work / "prefect"),
                "PREFECT_API_URL": server.url,
                "PREFECT_LOGGING_LEVEL": "WARNING",
                "MULTISTORE_DATA_DIR": str(work / "data"),
                "MULTISTORE_SANDBOX_URL": sandbox_url,
            }
        )
        if registry:
            os.environ["MULTISTORE_DATABASE_URL"] = database_url(databases[1], "psycopg")
        else:  # the breakers' rows go to a SQLite file under the benchmark's data directory
            os.environ.pop("MULTISTORE_DATABASE_URL", None)
        # Settings were read (and cached) to create the databases, before the environment
        # pointed at them: read them again, or the registry and blocks would be the user's.
        dispose_engines()
        reset_settings()
        yield Stack(
            server=server,
            sandbox_url=sandbox_url,
            managed=managed,
            server_home=work / "prefect",
            server_database_url=server_database_url,
        )
    finally:
        # The workers and the sandbox together (stop_all: a Prefect worker, told twice, stops at
        # once instead of waiting for flow-run processes still exiting; none is left running by
        # then), then the server (first in `managed`, even once restarted): it flushes this
        # process's clients to itself before stopping.
        stop_all(managed[:0:-1])
        if managed:
            managed[0].stop()
        dispose_engines()
        for name in databases:
            drop_database(name)


@contextmanager
def docker_engine(work: Path) -> Iterator[None]:
    """The Docker engine that answers, or `dockerd` started here (as root) and stopped after."""
    if engine_answers():
        yield
        return
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        raise SystemExit("bench: no Docker engine answers: start dockerd (as root), or --docker 0")
    daemon = start_dockerd(work / "dockerd")
    try:
        yield
    finally:
        daemon.stop(timeout=30)
