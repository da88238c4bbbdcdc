"""`make demo`: everything on this machine, then one real run of the stores.

1. add the example stores the registry lacks; stores already there keep the user's edits
   (`--reset` puts the examples back as the file has them);
2. a Prefect server (SQLite, 127.0.0.1:4200, PREFECT_HOME under the data directory) and the
   sandbox (127.0.0.1:8765): one already answering on its port is reused, a port taken by
   something else is replaced by a free one;
3. `multistore setup` (blocks, pools, the process work pool), `prefect --no-prompt deploy --all`,
   a process worker;
4. a run of `run-stores/adhoc` (the API request `prefect deployment run` sends), wait for it,
   print the report and the UI address;
5. leave everything running until Ctrl-C, which stops what this demo started (`--once` or
   MULTISTORE_DEMO_ONCE=1: pause the schedules before the worker starts, so that it runs only
   the demo's run, and stop right after the report).

Plain subprocesses and HTTP: multistore/ never imports Prefect.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtools.local import (
    PREFECT_SERVER_ENV,
    Managed,
    free_port,
    pause_schedules,
    spawn,
    wait_http,
)
from devtools.pgadmin import PostgresUnavailable, database_url
from devtools.prefect_db import ensure_prefect_database
from multistore.config import ConfigError, load_store_file
from multistore.registry import Registry, RegistryError
from multistore.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_STORES = ROOT / "data" / "stores.example.yaml"
BIN = Path(sys.executable).parent
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# What the Prefect server logs for each request it answers 503 (PREFECT_API_LOG_RETRYABLE_ERRORS).
RETRYABLE_MARK = "Encountered retryable exception in request"


def demo_database_name(data_dir: Path) -> str:
    """The PostgreSQL database of the demo's Prefect server: one per data directory."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return f"multistore_demo_prefect_{digest}"


def load_example_stores(
    path: Path = EXAMPLE_STORES, *, reset: bool = False
) -> dict[str, list[str]]:
    """Add the example stores that are missing; with `reset`, also put the others back as the
    file has them. Returns {"added", "updated", "kept"} (ids)."""
    configs = load_store_file(path)
    registry = Registry()
    existing = {store.id for store in registry.list()}
    kept = [] if reset else sorted(c.id for c in configs if c.id in existing)
    summary = registry.import_stores([c for c in configs if c.id not in kept], merge=True)
    return {**summary, "kept": kept}


def main(*, reset: bool = False) -> int:
    """Step 1 alone: the example stores, then `multistore status`."""
    try:
        summary = load_example_stores(reset=reset)
    except (ConfigError, RegistryError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(
        f"example stores from {EXAMPLE_STORES.name}: {len(summary['added'])} added, "
        f"{len(summary['updated'])} reset, {len(summary['kept'])} kept as they are"
        + (" (--reset puts them back as the file has them)" if summary["kept"] else "")
    )
    from cli.app import app

    return app(["status"], standalone_mode=False) or 0


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Demo:
    """What the demo started, so that Ctrl-C (or --once) stops exactly that."""

    def __init__(self, data_dir: Path, logs: Path) -> None:
        self.data_dir = data_dir
        self.logs = logs
        self.started: list[Managed] = []
        self.starting: list[tuple[Managed, str]] = []  # started, not yet answering (health URL)
        self.server_log_from = 0
        self.env = dict(os.environ)
        self.env.update(PREFECT_SERVER_ENV)
        self.env.update(
            PREFECT_HOME=str(data_dir / "prefect"),
            MULTISTORE_DATA_DIR=str(data_dir),
            # The server logs each request it answered 503 (e.g. "database is locked"), so the
            # demo can count them: the orchestrator's own hiccups, not the vendors'.
            PREFECT_API_LOG_RETRYABLE_ERRORS="true",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )

    def say(self, message: str) -> None:
        print(f"==> {message}", flush=True)

    def start(self, name: str, argv: list[str], health: str) -> Managed:
        """Start `name`; `wait_started` waits until it answers `health` (the server and the
        sandbox start side by side: neither needs the other to start)."""
        managed = spawn(name, argv, env=self.env, log=self.logs / f"{name}.log")
        self.started.append(managed)
        self.starting.append((managed, health))
        return managed

    def wait_started(self) -> None:
        for managed, health in self.starting:
            try:
                wait_http(health, timeout=120, process=managed.process)
            except Exception as exc:
                raise RuntimeError(
                    f"{managed.name} did not start ({exc}); see {managed.log}"
                ) from None
        self.starting.clear()

    def _place(self, label: str, port: int, path: str, health: str) -> tuple[int, str, bool]:
        """The rule for the server and the sandbox alike: one already answering `health` on
        `port` is reused; a port taken by something else is replaced by a free one. Returns the
        port, the URL (`path` on it) and whether it still has to be started."""
        url = f"http://127.0.0.1:{port}{path}"
        if _answers(f"{url}{health}"):
            self.say(f"{label} already running at {url}: reusing it")
            return port, url, False
        if _port_in_use(port):
            new = free_port()
            self.say(f"port {port} is taken by something else: {label} on {new}")
            port, url = new, f"http://127.0.0.1:{new}{path}"
        return port, url, True

    def prefect_server(self, port: int, database: str = "auto") -> str:
        port, api, to_start = self._place("Prefect server", port, "/api", "/health")
        if to_start:
            url = self._server_database(database)
            if url:
                self.env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url
                where = f"PostgreSQL database {url.rsplit('/', 1)[-1]}"
            else:
                where = f"SQLite in {self.env['PREFECT_HOME']}"
            self.say(f"starting a Prefect server at {api} ({where})")
            # The UI in the browser calls the API where this server is, not at the default 4200.
            self.env["PREFECT_UI_API_URL"] = api
            argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
            log = self.logs / "prefect-server.log"
            self.server_log_from = log.stat().st_size if log.exists() else 0  # this demo's part
            self.start("prefect-server", [*argv, "--port", str(port)], f"{api}/health")
        self.env["PREFECT_API_URL"] = api
        return api

    def _server_database(self, choice: str) -> str | None:
        """The Prefect server's database: PostgreSQL when it answers (`auto`), else SQLite.

        Measured on the demo's own run (12 stores, 4 at a time): a SQLite-backed server answered
        dozens of requests 503 "database is locked"; PostgreSQL none (docs/deployments.md). The
        database is this data directory's own, kept between demos like the SQLite file.
        """
        if choice == "sqlite":
            return None
        name = demo_database_name(self.data_dir)
        try:
            ensure_prefect_database(name)
        except PostgresUnavailable as exc:
            if choice == "postgres":
                raise RuntimeError(str(exc)) from None
            self.say(
                "PostgreSQL is not reachable (MULTISTORE_PG_ADMIN_URL): the Prefect server uses "
                "SQLite, which answers 503 'database is locked' under load (clients retry)"
            )
            return None
        return database_url(name, driver="asyncpg")

    def sandbox(self, port: int, contacts: int, vehicles: int) -> str:
        port, url, to_start = self._place("sandbox", port, "", "/admin/counters")
        if to_start:
            self.say(f"starting the sandbox at {url}")
            argv = [str(BIN / "multistore"), "sandbox", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--contacts", str(contacts), "--vehicles", str(vehicles)]
            self.start("sandbox", argv, f"{url}/admin/counters")
        self.env["MULTISTORE_SANDBOX_URL"] = url
        return url

    def run(self, argv: list[str], what: str) -> str:
        self.say(f"{what}: {shlex.join(argv)}")
        done = subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise RuntimeError(f"{what} failed:\n" + "\n".join(tail))
        return done.stdout

    def server_hiccups(self) -> str:
        """How many requests the Prefect server this demo started answered 503 (busy database)."""
        log = self.logs / "prefect-server.log"
        if not any(m.name == "prefect-server" for m in self.started) or not log.exists():
            return "Prefect server 503s: not counted (a server already running was reused)"
        with log.open("rb") as text:
            text.seek(self.server_log_from)
            count = text.read().decode(errors="replace").count(RETRYABLE_MARK)
        return f"Prefect server 503s (database busy) during this demo: {count}"

    def stop(self) -> None:
        for managed in reversed(self.started):
            self.say(f"stopping {managed.name}")
            managed.stop()
        self.started.clear()


def _start_run(demo: Demo, api: str, deployment: str, parameters: dict[str, object]) -> str:
    """A run of `deployment`, as `prefect deployment run` makes it, through the API: the same
    request without a second Prefect process to start (a few seconds of CPU on each demo)."""
    command = [str(BIN / "prefect"), "deployment", "run", deployment]
    for key, value in parameters.items():
        command += ["--param", f"{key}={json.dumps(value)}"]
    demo.say(f"the run (what {shlex.join(command)} does)")
    try:
        found = httpx.get(f"{api}/deployments/name/{deployment}", timeout=30)
        found.raise_for_status()
        # The server merges these over the deployment's own parameters, as the command does.
        made = httpx.post(
            f"{api}/deployments/{found.json()['id']}/create_flow_run",
            json={"parameters": parameters},
            timeout=30,
        )
        made.raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the run of {deployment} was not created: {exc}") from None
    return made.json()["id"]


def _wait_for_run(api: str, run_id: str, *, timeout: float, data_dir: Path) -> str:
    """Poll the flow run until it is final; show the report in progress meanwhile."""
    deadline = time.monotonic() + timeout
    shown = ""
    # One client for every poll (httpx.get would make one, TLS context and all, each time).
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                state = client.get(f"{api}/flow_runs/{run_id}").json()["state"]
            except (httpx.HTTPError, KeyError, TypeError):
                state = None
            if state and state["type"] in FINAL_STATES:
                return state["type"]
            progress = _progress(data_dir)
            if progress and progress != shown:
                print(f"    {progress}", flush=True)
                shown = progress
            # Half a second: the demo ends as soon as the run does (a GET costs the server little).
            time.sleep(0.5)
    raise TimeoutError(f"flow run {run_id} did not finish within {timeout:.0f} s")


def _progress(data_dir: Path) -> str:
    try:
        report = json.loads((data_dir / "reports" / "current.json").read_text())
    except (OSError, ValueError):
        return ""
    t = report.get("totals", {})
    return (
        f"{t.get('running', 0)} running, {t.get('queued', 0)} queued, "
        f"{t.get('completed', 0)} completed, {t.get('failed', 0)} failed, "
        f"{t.get('skipped', 0)} skipped"
    )


def run_demo(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument(
        "--once",
        action="store_true",
        default=get_settings().demo_once,
        help=("stop everything right after printing the report (also MULTISTORE_DEMO_ONCE=1)"),
    )
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--stores", help="comma-separated store ids (default: every enabled store)")
    parser.add_argument(
        "--respect-windows",
        action="store_true",
        help="run only stores whose processing window is open now, as the nightly schedule does "
        "(by default the demo runs every enabled store whatever the hour)",
    )
    parser.add_argument(
        "--prefect-database",
        choices=("auto", "postgres", "sqlite"),
        default="auto",
        help="the Prefect server's database: PostgreSQL at MULTISTORE_PG_ADMIN_URL when it answers "
        "(auto, the default; SQLite otherwise), or always one of them",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="put the example stores back as data/stores.example.yaml has them (by default stores "
        "already in the registry keep your edits; missing ones are added)",
    )
    parser.add_argument("--contacts", type=int, default=60, help="sandbox CRM contacts per store")
    parser.add_argument("--vehicles", type=int, default=12, help="sandbox vehicles per store")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the run")
    args = parser.parse_args(argv)

    data_dir = get_settings().data_dir.resolve()
    demo = Demo(data_dir, data_dir / "demo-logs")
    # Ctrl-C and a plain kill both end in the `finally` below, which stops what we started.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.say(f"data directory {data_dir}")
        if main(reset=args.reset) != 0:
            return 1
        api = demo.prefect_server(args.prefect_port, args.prefect_database)
        demo.sandbox(args.sandbox_port, args.contacts, args.vehicles)
        demo.wait_started()
        ms = str(BIN / "multistore")
        demo.run([ms, "setup", "--sandbox"], "blocks (the sandbox's), pools and the work pool")
        demo.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], "deployments")
        if args.once:
            # A tick or heartbeat started meanwhile would share the CPU with the demo's run,
            # then hold the worker's stop for its whole 15 s timeout and go on as an orphan.
            paused = pause_schedules(api)
            demo.say(
                f"--once: {paused} scheduled deployments paused, so that the worker runs only "
                "this demo's run (the next deploy resumes them)"
            )
        demo.say("starting a process worker on multistore-process")
        worker = ["prefect", "worker", "start", "--pool", "multistore-process", "--name", "demo"]
        demo.started.append(
            spawn(
                "worker",
                [str(BIN / worker[0]), *worker[1:]],
                # Someone is watching: a run starts within 1 s, not the default poll's 10 (the
                # parent's run and then its store's run each wait for a poll).
                env={**demo.env, "PREFECT_WORKER_QUERY_SECONDS": "1"},
                log=demo.logs / "worker.log",
            )
        )
        parameters: dict[str, object] = {}
        if args.stores:
            parameters["stores"] = [s.strip() for s in args.stores.split(",") if s.strip()]
        if not args.respect_windows:
            demo.say("ignoring processing windows for the demo (--respect-windows to honour them)")
            parameters["ignore_windows"] = True
        run_id = _start_run(demo, api, "run-stores/adhoc", parameters)
        ui = api.removesuffix("/api")
        demo.say(f"waiting for flow run {run_id} ({ui}/runs/flow-run/{run_id})")
        final = _wait_for_run(api, run_id, timeout=args.timeout, data_dir=data_dir)
        demo.say(f"run-stores/adhoc ended {final}; the report:")
        from cli.app import app

        app(["status"], standalone_mode=False)
        demo.say(demo.server_hiccups())
        demo.say(f"Prefect UI: {ui}  ·  report JSON: {data_dir / 'reports' / 'latest.json'}")
        if args.once:
            return 0
        demo.say("everything keeps running; Ctrl-C stops what the demo started")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        sys.stderr.write(f"demo: {exc}\n")
        return 1
    finally:
        demo.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(run_demo())
