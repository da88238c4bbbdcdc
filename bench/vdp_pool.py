"""Browser pool utilisation: 20 dealers × 50 vehicle detail pages through a pool of 4 browsers.

Starts its own Prefect server on a new PostgreSQL database (and the registry on another), and the
sandbox in a subprocess with a latency fault on the detail pages so that a page takes realistic
time (each page load and its data call wait `--latency-ms`). Then runs every dealer's store
pipeline (`homenet_feed` → `vdp_scrape`), at most `--stores-at-once` at a time, and prints

    utilisation = busy page-seconds / (pool size × wall time)

where busy page-seconds are measured client-side inside the slot (each page from navigation to
its rendered price read) and wall time is the whole batch, first flow start to last flow end.
It also prints the slot occupancy (slot-held seconds over the same denominator) and both ratios
over the span the pool was in use (first slot taken to last slot released). Target: ≥ 0.85.

    .venv/bin/python bench/vdp_pool.py [--dealers 20] [--feed-rows 56] [--pool 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _harness import prefect_stack


async def _batch(dealers: list[str], at_once: int) -> tuple[float, float, list[dict]]:
    from flows.store_pipeline import store_pipeline

    gate = asyncio.Semaphore(at_once)

    async def one(dealer: str) -> dict:
        async with gate:
            return await store_pipeline(dealer)

    began = time.time()
    results = await asyncio.gather(*(one(d) for d in dealers))
    return began, time.time(), results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealers", type=int, default=20)
    # The sandbox's feed has a bad row in ten (rejected before scraping): 56 rows are 50 vehicles.
    parser.add_argument("--feed-rows", type=int, default=56)
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--stores-at-once", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=250)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-vdp-"))
    with prefect_stack(
        work,
        prefix="bench",
        registry=True,
        sandbox_args=("--vehicles", str(args.feed_rows)),
    ) as stack:
        from flows.setup import setup
        from multistore.pools import PoolSpec, load_pools
        from multistore.registry import Registry
        from sandbox.client import SandboxAdmin
        from tasks.pools import ensure_pools

        dealers = [f"dealer-{n:02d}" for n in range(1, args.dealers + 1)]
        registry = Registry()
        for dealer in dealers:
            registry.add(dealer, jobs=["homenet_feed", "vdp_scrape"])
        asyncio.run(setup(seed_sandbox=True))
        pools = [p for p in load_pools() if p.name != "browser"]
        asyncio.run(ensure_pools([*pools, PoolSpec(name="browser", limit=args.pool)]))
        admin = SandboxAdmin(stack.sandbox_url)
        admin.set_faults({"vendor": "vdp", "latency_ms": args.latency_ms})

        began, ended, results = asyncio.run(_batch(dealers, args.stores_at_once))
        peak = admin.counters()["sessions"]["peak"]
        admin.close()

    scraped = [r["jobs"]["vdp_scrape"]["metrics"] for r in results]
    pages = sum(m["rendered"] for m in scraped)
    busy = sum(m["busy_seconds"] for m in scraped)
    held = sum(m["slot_seconds"] for m in scraped)
    wall = ended - began
    span = max(m["slot_until"] for m in scraped) - min(m["slot_from"] for m in scraped)
    capacity, span_capacity = args.pool * wall, args.pool * span
    print(
        f"vdp pool: {args.dealers} dealers × {pages // args.dealers} vehicles, pool {args.pool}, "
        f"{args.stores_at_once} stores at once, {args.latency_ms} ms latency per request"
    )
    print(f"pages rendered: {pages}  page errors: {sum(m['page_errors'] for m in scraped)}")
    print(f"pages open at once (sandbox peak): {peak}")
    print(f"wall time: {wall:.1f} s   pool in use: {span:.1f} s   per page: {busy / pages:.2f} s")
    print(f"utilisation (busy page-s / pool × wall):      {busy / capacity:.3f}")
    print(f"slot occupancy (slot-held s / pool × wall):   {held / capacity:.3f}")
    print(f"utilisation over the pool's span:             {busy / span_capacity:.3f}")
    print("target: utilisation ≥ 0.85")
    return 0


if __name__ == "__main__":
    sys.exit(main())
