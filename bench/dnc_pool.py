"""The DNC rate pool: N stores scrubbing at once against a vendor limit of R requests/minute.

Starts its own Prefect server on a new PostgreSQL database (SQLite answers 503 under this load),
the sandbox with the scrub service limited to R/minute with burst B, and N worker processes, each
a store running the real `dnc-scrub` task (small batches, so there are many requests) inside a
flow. Every request first waits for the Prefect rate limit `rate:api:dnc`; the sandbox counts what
it accepted and what it refused with 429. Prints

    achieved rate / R    (requests the vendor accepted per minute, first to last, over R)
    429 count            (target: 0)

Prefect's decay limiter reaches only ~0.78 of its decay setting (shared/PREFECT_NOTES.md), so the
pool is calibrated: its decay sits above the vendor's rate (`--decay-factor`) and its burst below
the vendor's (`--pool-burst`), so that the vendor's bucket absorbs what the polling jitter lets
through. Target: ≥ 0.9 of R with zero 429s.

    .venv/bin/python bench/dnc_pool.py [--stores 4] [--rate 120] [--burst 10] [--numbers 300]
        [--batch-size 5] [--decay-factor 1.2] [--pool-burst 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _harness import prefect_stack

from multistore.local import spawn

BLOCK = "dnc-bench"


def store_numbers(store: str, count: int) -> list[str]:
    """`count` distinct valid NANP numbers, different for every store."""
    offset = sum(map(ord, store)) * 1000
    return [
        f"213{200 + (offset + n) // 10000 % 700}{(offset + n) % 10000:04d}" for n in range(count)
    ]


def worker(store: str, count: int) -> int:
    """One store: the real scrub task inside a flow (this process is one of N)."""
    from prefect import flow

    from blocks.dnc import DNCService
    from tasks.dnc import scrub_numbers
    from tasks.pools import PREFECT_POOLS

    @flow(name="dnc-pool-bench")
    def scrub_store(store_id: str, numbers: list[str]) -> int:
        client = DNCService.load(BLOCK).get_client(store_id, pools=PREFECT_POOLS)
        return len(scrub_numbers(client, numbers))

    began = time.time()
    answered = scrub_store(store, store_numbers(store, count))
    print(json.dumps({"store": store, "answered": answered, "seconds": time.time() - began}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=4)
    parser.add_argument("--rate", type=float, default=120, help="vendor limit, requests/minute")
    parser.add_argument("--burst", type=int, default=10, help="vendor burst")
    parser.add_argument("--numbers", type=int, default=300, help="numbers per store")
    parser.add_argument("--batch-size", type=int, default=5, help="numbers per request")
    parser.add_argument("--decay-factor", type=float, default=1.2, help="pool decay / vendor rate")
    parser.add_argument("--pool-burst", type=int, default=5, help="the rate pool's burst")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.numbers)

    work = Path(tempfile.mkdtemp(prefix="bench-dnc-"))
    with prefect_stack(work, prefix="bench_dnc") as stack:
        sandbox_url = stack.sandbox_url
        from blocks.sandbox import shared_block
        from multistore.pools import PoolSpec, load_pools
        from sandbox.client import SandboxAdmin
        from tasks.pools import ensure_pools

        shared_block("dnc", sandbox_url, batch_size=args.batch_size).save(BLOCK, overwrite=True)
        dnc = next(p for p in load_pools() if p.name == "api:dnc")
        pool = PoolSpec(
            name="api:dnc",
            limit=dnc.limit,
            per_minute=args.rate * args.decay_factor,
            burst=args.pool_burst,
        )
        asyncio.run(ensure_pools([pool]))
        admin = SandboxAdmin(sandbox_url)
        admin.set_limits(dnc={"per_minute": args.rate, "burst": args.burst})
        admin.reset_counters()
        # Let the "no limit here" cache of a previous setup expire (PREFECT_NOTES.md: 5 s).
        stores = [f"bench-{n:02d}" for n in range(1, args.stores + 1)]
        workers = [
            spawn(
                store,
                [sys.executable, __file__, "--worker", store, "--numbers", str(args.numbers)],
                env=dict(os.environ),
                log=work / f"{store}.log",
            )
            for store in stores
        ]
        stack.managed.extend(workers)
        failed = []
        for process in workers:
            if process.process.wait() != 0:
                failed.append(process.name)
        counts = admin.vendor_counts("dnc")
        times = sorted(admin.counters(detail=True)["accepted_times"].get("dnc", []))
        summary = admin.rate()["dnc"]
        admin.close()

    if failed:
        logs = ", ".join(str(work / f"{name}.log") for name in failed)
        print(f"workers failed: {', '.join(failed)} (logs: {logs})")
        return 1
    expected = args.stores * -(-args.numbers // args.batch_size)
    span = times[-1] - times[0]
    per_minute = (len(times) - 1) / span * 60
    steady = (len(times) - args.pool_burst) / span * 60
    print(
        f"dnc pool: {args.stores} stores × {args.numbers} numbers in batches of "
        f"{args.batch_size} = {expected} requests; vendor {args.rate:g}/min burst {args.burst}; "
        f"pool decay {pool.per_minute:g}/min (×{args.decay_factor:g}) burst {args.pool_burst}"
    )
    print(f"accepted: {counts['accepted']}   429s: {counts['rate_limited']}   span: {span:.1f} s")
    print(f"most in any 60 s: {summary['max_in_60s']}  (vendor allows {args.rate + args.burst:g})")
    print(f"achieved rate / R: {per_minute / args.rate:.3f}   ({per_minute:.1f}/min)")
    print(f"steady rate / R (without the opening burst): {steady / args.rate:.3f}")
    print("target: ≥ 0.9 of R with zero 429s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
