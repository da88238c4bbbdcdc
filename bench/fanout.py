"""What the parent flow costs per store, against a bare Prefect subflow call, in the same run.

    python bench/fanout.py [--stores 200] [--concurrency 4] [--sqlite]

Starts its own Prefect server (PostgreSQL-backed by default, a fresh database on 127.0.0.1:5432;
--sqlite for a SQLite one) and a fresh registry, adds `--stores` stores with an empty job list (the
store pipeline then only records its run), and measures:

1. bare: a parent flow that calls a trivial async subflow once per store, through the same
   semaphore bound: wall / stores is Prefect's own per-subflow cost;
2. pipelines: the same with the store pipeline as the subflow, without the parent's logic;
3. multistore: `run_stores` over the same number of stores with `max_concurrent_stores` equal
   to that bound: wall / stores is the per-store orchestration overhead (planning, the store
   pipeline's registry rows and artifact, outcomes, the report);

and prints each and the ratios run_stores / bare and run_stores / pipelines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from devtools.local import PREFECT_SERVER_ENV, start_prefect_server
from devtools.pgadmin import create_database, database_url, drop_database
from devtools.prefect_db import create_prefect_database
from multistore.settings import reset_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sqlite", action="store_true", help="SQLite server and registry")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="multistore-bench-fanout-"))
    # Before Prefect is imported: its home and settings must be this benchmark's.
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.update(PREFECT_SERVER_ENV)
    os.environ["MULTISTORE_DATA_DIR"] = str(home / "data")
    databases: list[str] = []
    server_db = None
    if not args.sqlite:
        databases = [create_prefect_database("bench_prefect"), create_database("bench_registry")]
        server_db = database_url(databases[0], driver="asyncpg")
        os.environ["MULTISTORE_DATABASE_URL"] = database_url(databases[1])
    else:
        os.environ.pop("MULTISTORE_DATABASE_URL", None)  # the SQLite file under the data dir
    # Settings were read (and cached) to create the databases: read them again, now that the
    # environment points at this benchmark's own, or the registry would be the user's.
    reset_settings()
    server = start_prefect_server(home / "server", database_url=server_db)
    os.environ["PREFECT_API_URL"] = server.url
    try:
        bare, pipeline, ours = asyncio.run(_measure(args.stores, args.concurrency))
    finally:
        server.stop()
        from multistore.db import dispose_engines

        dispose_engines()
        if databases:
            for name in databases:
                drop_database(name)
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"fan-out of {args.stores} trivial stores, {args.concurrency} at once, {backend} server")
    print(f"  bare subflow call:          {bare * 1000:8.1f} ms per subflow")
    print(f"  store_pipeline subflows:    {pipeline * 1000:8.1f} ms per store (no parent logic)")
    print(f"  run_stores per store:       {ours * 1000:8.1f} ms per store")
    print(f"  ratio run_stores/bare:      {ours / bare:8.2f}")
    print(f"  ratio run_stores/pipelines: {ours / pipeline:8.2f} (the parent's own share)")
    return 0


async def _measure(stores: int, concurrency: int) -> tuple[float, float, float]:
    from prefect import flow

    from flows.run_stores import run_stores
    from flows.store_pipeline import store_pipeline
    from multistore.registry import Registry

    @flow(name="bench-trivial-store")
    async def trivial(store_id: str) -> str:
        return store_id

    @flow(name="bench-bare-parent")
    async def bare_parent(n: int, bound: int) -> None:
        gate = asyncio.Semaphore(bound)

        async def one(i: int) -> None:
            async with gate:
                await trivial(f"store-{i:04d}", return_state=True)

        await asyncio.gather(*(one(i) for i in range(n)))

    @flow(name="bench-pipelines-parent")
    async def pipelines_parent(ids: list[str], bound: int) -> None:
        gate = asyncio.Semaphore(bound)

        async def one(store_id: str) -> None:
            async with gate:
                await store_pipeline(store_id, return_state=True)

        await asyncio.gather(*(one(store_id) for store_id in ids))

    registry = Registry()
    ids = [f"bench-{i:04d}" for i in range(stores)]
    for store_id in ids:
        registry.add(store_id, jobs=[])

    # A warm-up, so neither side pays the first connection and imports.
    await bare_parent(2, concurrency)

    started = time.perf_counter()
    await bare_parent(stores, concurrency)
    bare = (time.perf_counter() - started) / stores

    started = time.perf_counter()
    await pipelines_parent(ids, concurrency)
    pipeline = (time.perf_counter() - started) / stores

    started = time.perf_counter()
    state = await run_stores(max_concurrent_stores=concurrency, return_state=True)
    ours = (time.perf_counter() - started) / stores
    if not state.is_completed():
        raise SystemExit(f"run_stores did not complete: {state.message}")
    return bare, pipeline, ours


if __name__ == "__main__":
    sys.exit(main())
