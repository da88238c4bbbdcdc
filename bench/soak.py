"""Soak: what production does to a run of many stores, checked against the sandbox's ground truth.

On a Prefect server and a registry each on a new PostgreSQL database, two process workers run
`--stores` dealers' DNC compliance as runs of `store-pipeline/default`, started by the parent flow
(`run_stores`), through:

1. a fault storm for the whole run: 30% 5xx and 150 ms latency on the CRM (API and web UI) and the
   DNC service, and 40% of the DNC's answers 429;
2. a worker killed with -9 mid-store, with the store run it was running (a lost machine: nothing
   cleans up; devtools.local's kill helpers); a third worker takes its place;
3. the Prefect server stopped for `--restart-seconds` and started again on the same port and
   database;
4. a browser killed with -9 while its CRM page is open.

Then it checks and prints, for scripts to read:

    stores completed: N/N            the report's completed stores
    crm flags wrong: 0               CRM flags that differ from the rules applied to the sandbox's
                                     ground truth (tests/fixtures/dnc_oracle.py, written apart)
    duplicate writes: 0              UI saves of the value a contact already held
    slots held after: 0              pool slots in use once the run is over (after the dead
                                     run's slot lease has had its time to lapse)
    rows left running: 0             registry rows still "running"
    worst dead-run detection s: X    kill -9 → the killed run's row closed as crashed
    vendor 429s beyond limit: 0      429s of the DNC's own rate limit (a storm's not counted)
    secrets found: 0                 the sandbox's credentials in any log, report, result or
                                     database dump (both databases) of the run

    .venv/bin/python bench/soak.py [--stores 20] [--contacts 40] [--restart-seconds 60]
        [--per-worker 3] [--lease-seconds 90] [--backoff-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from _harness import Stack, prefect_stack

from devtools import PREFECT

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' DNC oracle: the rules written apart from multistore's

STORM = [
    {"vendor": "crm", "error_rate": 0.3, "latency_ms": 150},  # "crm" covers the web UI too
    {"vendor": "dnc", "error_rate": 0.3, "latency_ms": 150, "rate_limit_storm": 0.4},
]


class Soak:
    """The run's chaos, in order, beside the parent flow; what it saw, for the checks."""

    def __init__(self, stack: Stack, env: dict[str, str], work: Path, args) -> None:
        from multistore.leases import Leases
        from multistore.registry import Registry
        from sandbox.client import SandboxAdmin

        self.stack, self.env, self.work, self.args = stack, env, work, args
        self.admin = SandboxAdmin(stack.sandbox_url)
        self.leases, self.registry = Leases(), Registry()
        self.workers: dict[str, object] = {}
        self.killed: list[tuple[str, str, float]] = []  # store, flow run, when (monotonic)
        self.detected: dict[str, float] = {}  # flow run → when its row was closed as crashed
        self.browser_killed = ""
        self.outage_seconds = 0.0
        self.done = threading.Event()
        self.parent_ended = threading.Event()  # no chaos can come after the run
        self.chaos_error = ""

    def start_worker(self, name: str) -> None:
        from devtools.local import spawn
        from flows.work_pools import PROCESS_POOL

        # --type: a worker that starts while the server is away waits for it instead of exiting.
        argv = [PREFECT, "worker", "start", "--pool", PROCESS_POOL, "--type", "process"]
        argv += ["--name", name]
        worker = spawn(
            name, [*argv, "--limit", str(self.args.per_worker)], env=self.env,
            log=self.work / f"{name}.log", cwd=ROOT,
        )  # fmt: skip
        self.stack.managed.append(worker)
        self.workers[name] = worker

    # -- the chaos, run in a thread beside the parent flow -------------------------------------
    def chaos(self) -> None:
        try:
            self._kill_a_worker_mid_store()
            self._kill_a_browser_mid_page()
            self.outage_seconds = self.stack.restart_server(self.args.restart_seconds)
        except TimeoutError as exc:
            self.chaos_error = str(exc)
        finally:
            self.done.set()

    def _kill_a_worker_mid_store(self) -> None:
        from devtools.local import kill_flow_run

        doomed = self.workers["soak-worker-a"]
        victim = self._wait_for(lambda: self._mid_store_on(doomed.process.pid), "a store mid-way")
        store, run_id = victim
        doomed.kill()
        when = time.monotonic()
        if kill_flow_run(run_id):
            self.killed.append((store, run_id, when))
        self.start_worker("soak-worker-c")

    def _mid_store_on(self, worker_pid: int) -> tuple[str, str] | None:
        """A store whose run `worker_pid` started and that has reached its DNC scrub."""
        from devtools.local import flow_run_pids

        stores = self.admin.counters()["stores"]
        for store, held in self.leases.live().items():
            if not stores.get(store, {}).get("dnc", {}).get("requests"):
                continue
            if any(_parent(pid) == worker_pid for pid in flow_run_pids(held.holder)):
                return store, held.holder
        return None

    def _kill_a_browser_mid_page(self) -> None:
        def open_page() -> tuple[str, list[int]] | None:
            from devtools.local import flow_run_pids

            pages = self.admin.counters()["sessions"]["stores"]
            live = self.leases.live()
            for store, seen in pages.items():
                if seen.get("now") and store in live:
                    browsers = [p for p in flow_run_pids(live[store].holder) if _is_browser(p)]
                    if browsers:
                        return store, browsers
            return None

        store, browsers = self._wait_for(open_page, "a CRM page open in a store's browser")
        for pid in browsers:
            _kill(pid)
        self.browser_killed = store

    def _wait_for(self, find, what: str):
        while not self.parent_ended.is_set():
            found = find()
            if found:
                return found
            time.sleep(0.2)
        raise TimeoutError(f"soak: the run ended before {what}: add stores or contacts")

    def watch_detection(self) -> None:
        """When each killed run's row is closed as crashed (the parent's lease sweep)."""
        while not (self.done.is_set() and len(self.detected) == len(self.killed)):
            if self.parent_ended.is_set() and self.done.is_set():
                break  # the run is over: what was not seen closed by now never will be
            for store, run_id, _ in list(self.killed):
                if run_id in self.detected:
                    continue
                rows = self.registry.history(store, limit=10)
                if any(r.flow_run_id == run_id and r.status == "crashed" for r in rows):
                    self.detected[run_id] = time.monotonic()
            time.sleep(0.5)


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def _is_browser(pid: int) -> bool:
    """Chromium's browser process (not one of its renderers or helpers)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"chrom" in argv[0].lower() and not any(a.startswith(b"--type=") for a in argv)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _deploy(env: dict[str, str]) -> None:
    done = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--name", "store-pipeline/default"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"soak: prefect deploy failed: {(done.stdout + done.stderr)[-2000:]}")


def _slots_after(url: str, wait: float) -> int:
    """Pool slots in use, once the dead run's slot lease had `wait` seconds to lapse."""
    from multistore.prefect_api import PrefectAPI

    deadline = time.monotonic() + wait
    while True:
        held = sum(p.active_slots for p in PrefectAPI(url).pools())
        if not held or time.monotonic() > deadline:
            return held
        time.sleep(1)


def _secrets_found(work: Path, database_urls: list[str]) -> int:
    """Occurrences of the sandbox's credentials in what the run left: logs (the sandbox's own
    excepted: it is the vendor), reports, results, and a dump of each database."""
    from sandbox import credentials

    secrets = [
        credentials.CRM_CLIENT_SECRET, credentials.CRM_API_KEY, credentials.CRM_UI_PASSWORD,
        credentials.DNC_API_KEY, credentials.HOMENET_KEY, credentials.SHORTENER_KEY,
    ]  # fmt: skip
    blobs = [
        path.read_bytes()
        for path in work.rglob("*")
        if path.is_file() and path.name != "sandbox.log"
    ]
    for url in database_urls:
        libpq = url.replace("+asyncpg", "").replace("+psycopg", "")
        dumped = subprocess.run(["pg_dump", libpq], capture_output=True, timeout=300)
        if dumped.returncode:
            raise SystemExit(f"soak: pg_dump failed: {dumped.stderr.decode()[-500:]}")
        blobs.append(dumped.stdout)
    return sum(blob.count(secret.encode()) for blob in blobs for secret in secrets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=40)
    parser.add_argument("--restart-seconds", type=float, default=60.0)
    parser.add_argument("--per-worker", type=int, default=3, help="runs at once per worker")
    parser.add_argument("--lease-seconds", type=float, default=None,
                        help="the store lease (default: the project's, 90 s)")  # fmt: skip
    parser.add_argument("--backoff-seconds", type=float, default=5.0,
                        help="the parent's wait before a failed store's next attempt")  # fmt: skip
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    with prefect_stack(work, prefix="soak", registry=True) as stack:
        from devtools.local import prefect_env
        from flows.run_stores import run_stores
        from flows.setup import setup
        from multistore.leases import TTL_SECONDS
        from multistore.registry import Registry
        from multistore.settings import reset_settings
        from tasks.pools import SLOT_LEASE_SECONDS
        from tests.fixtures.dnc_oracle import expected_flags_of

        stores = [f"soak-{n:03d}" for n in range(1, args.stores + 1)]
        registry = Registry()
        for store in stores:
            registry.add(store, jobs=["dnc_compliance"])
        env = prefect_env(work / "workers", stack.server.url)
        env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
        if args.lease_seconds:
            env["MULTISTORE_STORE_LEASE_SECONDS"] = str(args.lease_seconds)
            # The parent runs here: it asks after a dead run at a third of the same lease.
            os.environ["MULTISTORE_STORE_LEASE_SECONDS"] = str(args.lease_seconds)
            reset_settings()
        soak = Soak(stack, env, work, args)
        soak.admin.configure(contacts_per_store=args.contacts)
        asyncio.run(setup(seed_sandbox=True))
        # The workers start (and find the pool setup made) while the deployment is made: they
        # only ask for runs, and the first exist once run_stores starts.
        for name in ("soak-worker-a", "soak-worker-b"):
            soak.start_worker(name)
        _deploy(env)
        soak.admin.set_faults(STORM)
        soak.admin.reset_counters()

        chaos = threading.Thread(target=soak.chaos, name="soak-chaos")
        watcher = threading.Thread(target=soak.watch_detection, name="soak-detection", daemon=True)
        chaos.start()
        watcher.start()
        began = time.monotonic()
        state = asyncio.run(
            run_stores(
                stores=stores,
                ignore_windows=True,
                store_deployment="store-pipeline/default",
                max_concurrent_stores=2 * args.per_worker,
                max_retries=3,
                backoff_seconds=args.backoff_seconds,
                return_state=True,
            )
        )
        wall = time.monotonic() - began
        soak.parent_ended.set()
        chaos.join()
        watcher.join(timeout=60)
        report = asyncio.run(state.aresult(raise_on_failure=False))
        soak.admin.clear_faults()

        completed = sum(s["status"] == "completed" for s in report["stores"])
        seed, today = soak.admin.config()["seed"], datetime.now(UTC).date()
        wrong = 0
        for store in stores:
            expected = expected_flags_of(soak.admin.crm_contacts(store), seed, today)
            held = soak.admin.crm_flags(store)
            wrong += sum(held[contact] != flag for contact, flag in expected.items())
        counts = soak.admin.counters()["vendors"]
        duplicates = counts.get("crm_ui", {}).get("saves_unchanged", 0)
        over_limit = counts.get("dnc", {}).get("over_limit", 0)
        slots = _slots_after(stack.server.url, 2 * SLOT_LEASE_SECONDS)
        running = sum(r.status == "running" for s in stores for r in registry.history(s))
        detections = [soak.detected.get(run) for _, run, _ in soak.killed]
        worst = (
            max(d - k for d, (_, _, k) in zip(detections, soak.killed, strict=True))
            if soak.killed and None not in detections
            else float("nan")
        )
        secrets = _secrets_found(
            work, [stack.server_database_url, os.environ["MULTISTORE_DATABASE_URL"]]
        )
        soak.admin.close()

    lease = args.lease_seconds or TTL_SECONDS
    print(
        f"soak: {args.stores} stores × {args.contacts} contacts on 2 workers × {args.per_worker}, "
        f"storm {STORM}; {wall:.0f} s"
    )
    print(
        f"killed with -9: worker soak-worker-a and run of {', '.join(s for s, _, _ in soak.killed)}"
        f"; browser of {soak.browser_killed}; server down {soak.outage_seconds:.0f} s "
        f"(asked {args.restart_seconds:g} s); store lease {lease:g} s"
    )
    if soak.chaos_error:
        print(soak.chaos_error)
    print(f"stores completed: {completed}/{len(stores)}")
    print(f"crm flags wrong: {wrong}")
    print(f"duplicate writes: {duplicates}")
    print(f"slots held after: {slots}")
    print(f"rows left running: {running}")
    print(f"worst dead-run detection s: {worst:.1f}")
    print(f"vendor 429s beyond limit: {over_limit}")
    print(f"secrets found: {secrets}")
    ok = (completed, wrong, duplicates, slots, running, over_limit, secrets) == (
        len(stores), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    return 0 if ok and worst == worst and not soak.chaos_error else 1


if __name__ == "__main__":
    sys.exit(main())
