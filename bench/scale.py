"""Scaling: the same browser-bound stores with 1, 2 and 4 process workers and 2 Docker workers.

Starts its own Prefect server on a new PostgreSQL database (the registry on another) and the
sandbox, deploys `store-pipeline/default` (prefect.yaml, the process pool) and, with `--docker`,
`store-pipeline/default-docker` (prefect.docker.yaml: the image, built or found by the deploy's
build step). Then, for each setting, starts that many workers, each running at most
`--per-worker` store runs at once (one machine's share), runs every store's DNC compliance
through `run_stores` with the stores as deployment runs, stops the workers, and prints

    workers: N  stores/min: X  browser pool utilisation: U  bound: B

where U = browser page-seconds / (pool × wall) and B = pool × 60 / page-seconds per store: the
stores per minute the browser pool allows, given its slots and the browser time a store needs.
Page-seconds are measured where the pages are served: the sandbox integrates its open pages over
time (`sessions.busy_seconds`), reset before each setting. Each store's browser work is its CRM
flag changes through the web UI; a latency on the CRM's pages (`--latency-ms` per request) makes
a page take the time a real vendor's would, so the browser, not the CPU, is what stores wait for.

Before the next setting the sandbox is reset (its CRM back to the same wrong flags), so every
setting does the same work; after each, every store must be completed and its CRM equal the
flags the rules give the sandbox's ground truth (tests/fixtures/dnc_oracle.py), and no more pages
may have been open at once than the pool has slots. Any miss: exit 1.

    .venv/bin/python bench/scale.py [--stores 40] [--process 1,2,4] [--docker 2] [--pool 2]
        [--per-worker 3] [--contacts 70] [--latency-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from _harness import docker_engine, prefect_stack

from devtools import PREFECT

ROOT = Path(__file__).resolve().parents[1]
# The CRM flags the rules give the sandbox's data, written out independently of multistore.
sys.path.insert(0, str(ROOT))

DEPLOYMENTS = {"process": "store-pipeline/default", "docker": "store-pipeline/default-docker"}


@dataclass
class Point:
    kind: str  # process or docker
    workers: int
    stores: int
    wall: float
    busy: float  # browser page-seconds, from the sandbox
    pool: int
    peak: int
    completed: int
    correct: int

    @property
    def per_minute(self) -> float:
        return self.stores * 60 / self.wall

    @property
    def utilisation(self) -> float:
        return self.busy / (self.pool * self.wall)

    @property
    def bound(self) -> float:
        return self.pool * 60 / (self.busy / self.stores)

    def line(self) -> str:
        workers = f"{self.workers}" if self.kind == "process" else f"{self.workers} (docker)"
        return (
            f"workers: {workers}  stores/min: {self.per_minute:.2f}  "
            f"browser pool utilisation: {self.utilisation:.2f}  bound: {self.bound:.2f}"
        )

    def checks(self) -> str:
        return (
            f"  {self.completed}/{self.stores} stores completed, CRM = ground truth for "
            f"{self.correct}/{self.stores}, pages open at most {self.peak} (pool {self.pool}), "
            f"wall {self.wall:.0f} s, browser {self.busy / self.stores:.1f} s per store"
        )

    def ok(self) -> bool:
        return self.completed == self.correct == self.stores and 0 < self.peak <= self.pool


def _settings(process: str, docker: int) -> list[tuple[str, int]]:
    counts = [int(n) for n in process.split(",") if n.strip()]
    return [("process", n) for n in counts] + ([("docker", docker)] if docker else [])


def _deploy(env: dict[str, str], *args: str, log: Path) -> None:
    done = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,  # a first image build (the dependencies) takes minutes
    )
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"scale: prefect deploy {' '.join(args)} failed (log: {log})")


def _remove_containers(run_ids: set[str]) -> None:
    """Containers of this run's flow runs still there (a failed run's, a stopped worker's)."""
    import docker

    client = docker.from_env(version="auto")
    try:
        label = "prefect.io/flow-run-id"
        for container in client.containers.list(all=True, filters={"label": label}):
            if container.labels.get(label) in run_ids:
                container.remove(force=True)
    finally:
        client.close()


def _run_point(
    kind: str,
    workers: int,
    *,
    args: argparse.Namespace,
    stores: list[str],
    truth: dict[str, dict[str, bool]],
    env: dict[str, str],
    work: Path,
    admin: Any,
    at_once: int,
) -> Point:
    from devtools.local import not_online, spawn, stop_all
    from flows.run_stores import run_stores
    from flows.work_pools import DOCKER_POOL, PROCESS_POOL

    pool = DOCKER_POOL if kind == "docker" else PROCESS_POOL
    admin.reset()  # the CRM's flags back to the start: every setting does the same work
    if args.latency_ms:
        admin.set_faults({"vendor": "crm_ui", "latency_ms": args.latency_ms})
    names = [f"scale-{kind}-{workers}-{n}" for n in range(1, workers + 1)]
    started = []
    try:
        for name in names:
            argv = [PREFECT, "worker", "start", "--pool", pool, "--name", name]
            argv += ["--limit", str(args.per_worker)]
            started.append(spawn(name, argv, env=env, log=work / f"{name}.log"))
        # Every worker online before the runs exist, so wall time is store work only.
        if missing := asyncio.run(not_online(pool, set(names), timeout=300)):
            raise SystemExit(f"scale: workers {sorted(missing)} not online on {pool}")
        admin.reset_counters()
        began = time.monotonic()
        state = asyncio.run(
            asyncio.wait_for(
                run_stores(
                    stores=stores,
                    store_deployment=DEPLOYMENTS[kind],
                    max_concurrent_stores=at_once,
                    max_retries=0,
                    return_state=True,
                ),
                timeout=args.timeout,
            )
        )
        wall = time.monotonic() - began
        sessions = admin.counters()["sessions"]
    finally:
        # Together, not one after another: a worker told to stop waits for its flow-run
        # processes to exit, and one still exiting after its run ended outlasted Managed.stop's
        # 15 s in every smoke run measured, so each worker was killed then anyway. stop_all tells
        # each twice, which Prefect's worker answers by killing itself at once; at most 5 s
        # should that change. The wall above is already taken.
        stop_all(started, timeout=5)
    report = state.result(raise_on_failure=False)
    if kind == "docker":
        _remove_containers({rid for s in report["stores"] for rid in s["flow_run_ids"]})
    completed = sum(s["status"] == "completed" for s in report["stores"])
    correct = sum(admin.crm_flags(store) == truth[store] for store in stores)
    return Point(
        kind=kind,
        workers=workers,
        stores=len(stores),
        wall=wall,
        busy=sessions["busy_seconds"],
        pool=args.pool,
        peak=sessions["peak"],
        completed=completed,
        correct=correct,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--process", default="1,2,4", help="process workers per setting")
    parser.add_argument("--docker", type=int, default=2, help="Docker workers (0: none)")
    # Two slots, three stores per worker: the pool binds within four workers on two cores.
    parser.add_argument("--pool", type=int, default=2, help="browser pool slots")
    parser.add_argument("--per-worker", type=int, default=3, help="store runs per worker")
    parser.add_argument("--contacts", type=int, default=70, help="CRM contacts per store")
    parser.add_argument("--latency-ms", type=int, default=200, help="per CRM page request")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per setting")
    args = parser.parse_args()
    settings = _settings(args.process, args.docker)
    at_once = max(n for _, n in settings) * args.per_worker

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    with (
        docker_engine(work) if args.docker else nullcontext(),
        prefect_stack(
            work,
            prefix="bench_scale",
            registry=True,
            sandbox_args=("--contacts", str(args.contacts)),
        ) as stack,
    ):
        from devtools.local import prefect_env
        from flows.setup import setup
        from multistore.datafiles import DEFAULTS
        from multistore.registry import Registry
        from sandbox.client import SandboxAdmin
        from tests.fixtures.dnc_oracle import expected_flags_of

        stores = [f"scale-{n:03d}" for n in range(1, args.stores + 1)]
        registry = Registry()
        for store in stores:
            registry.add(store, jobs=["dnc_compliance"])
        pools = yaml.safe_load((DEFAULTS / "pools.yaml").read_text())
        pools["pools"]["browser"]["limit"] = args.pool
        (work / "pools.yaml").write_text(yaml.safe_dump(pools))
        asyncio.run(
            setup(pools_file=work / "pools.yaml", seed_sandbox=True, docker_pool=bool(args.docker))
        )

        env = prefect_env(work / "cli-home", stack.server.url)
        env["PREFECT_WORKER_QUERY_SECONDS"] = "1"  # a worker picks a run up within a second
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        _deploy(env, "--name", DEPLOYMENTS["process"], log=work / "deploy.log")
        if args.docker:
            env.setdefault("MULTISTORE_IMAGE_BASE", "local")  # no public image registry here
            docker_file = ("--prefect-file", "prefect.docker.yaml")
            _deploy(env, *docker_file, "--name", DEPLOYMENTS["docker"], log=work / "docker.log")

        admin = SandboxAdmin(stack.sandbox_url)
        seed, today = admin.config()["seed"], datetime.now(UTC).date()
        truth = {s: expected_flags_of(admin.crm_contacts(s), seed, today) for s in stores}
        wrong = sum(admin.crm_flags(s)[c] != f for s in stores for c, f in truth[s].items())
        load = os.getloadavg()[0]
        print(
            f"scale: {args.stores} stores (DNC compliance, {args.contacts} contacts, "
            f"{wrong} CRM flags to change through the browser), {args.latency_ms} ms per CRM "
            f"page request; browser pool {args.pool}; each worker runs {args.per_worker} stores "
            f"at once; at most {at_once} stores at once"
        )
        print(
            f"machine: {os.cpu_count()} cores, shared with other work (load average "
            f"{load:.1f} at the start): every worker, store process and browser runs on them",
            flush=True,
        )
        points = []
        for kind, workers in settings:
            point = _run_point(
                kind,
                workers,
                args=args,
                stores=stores,
                truth=truth,
                env=env,
                work=work,
                admin=admin,
                at_once=at_once,
            )
            points.append(point)
            print(point.line())
            print(point.checks(), flush=True)
        admin.close()

    failed = [p for p in points if not p.ok()]
    for point in failed:
        print(f"scale: correctness lost at {point.line().split('  ')[0]} (logs: {work})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
