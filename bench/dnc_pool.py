"""The DNC rate pool: N stores scrubbing at once against a vendor limit of R requests/minute.

Starts its own Prefect server and registry, each on a new PostgreSQL database (SQLite answers 503
under this load), the sandbox with the scrub service limited to R/minute with burst B, and N
worker processes, each a store running the real `dnc-scrub` task (small batches, so there are many
requests) inside a flow. Every request first waits for the pool's rate (`rate:api:dnc`, paced by
multistore/pacer.py at the shipped figures, multistore/defaults/pools.yaml); the sandbox counts
what it accepted and what it refused with 429.

Two shapes of work (`--shapes`): `equal` (every store `--numbers` numbers) and `uneven` (one
store four times each of the others, the same total). For each, in the same run, it measures ours
and then the static-split peer: the same N processes, each a plain asyncio loop paced by
aiolimiter at R/N (the share a per-worker limiter must take to never exceed R together). Prints,
per shape,

    achieved rate / R: X                  (ours: accepted per minute, first to last, over R)
    429s: N                               (ours; target 0)
    static split achieved rate / R: Y     (the peer)

The rate is what the vendor saw: accepted requests per minute in the window from the first
request it accepted to the last, so the workers' start-up (a Prefect flow in a new process,
seconds on a loaded machine) is outside it; the pool's opening burst is inside it, which is why
a pool at exactly R can print a little above 1. Beside it, where a worker's time went: the
slots of `api:dnc` it took and how long taking and giving one back took (round trips to the
Prefect server), and how long each request waited for the rate.

Target: ours ≥ 0.97 of R with zero 429s on both shapes.

    .venv/bin/python bench/dnc_pool.py [--stores 4] [--rate 120] [--burst 10] [--numbers 300]
        [--batch-size 5] [--shapes equal,uneven] [--no-peer]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# Imported where used: a peer process needs httpx and aiolimiter only, and of the peer's process
# only its requests are measured (its start-up, twice the rest of its run at a small size, is not).
if TYPE_CHECKING:
    from _harness import Stack

    from multistore.calls import Pools
    from multistore.pools import PoolSpec
    from sandbox.client import SandboxAdmin

BLOCK = "dnc-bench"
# The block's URL and API key, as the parent hands them to a peer process.
PEER_ENV = ("DNC_BENCH_PEER_URL", "DNC_BENCH_PEER_KEY")
# The vendor rate multistore/defaults/pools.yaml sizes api:dnc for (requests/minute).
VENDOR_RATE = 120.0


def store_numbers(store: str, count: int) -> list[str]:
    """`count` distinct valid NANP numbers, different for every store."""
    offset = sum(map(ord, store)) * 1000
    return [
        f"213{200 + (offset + n) // 10000 % 700}{(offset + n) % 10000:04d}" for n in range(count)
    ]


class TimedPools:
    """The pools as the worker uses them, each slot and rate wait timed (epoch seconds), so the
    bench can say where a request's time goes: waiting for a slot, giving it back, waiting for
    the rate."""

    def __init__(self, pools: Pools) -> None:
        self.pools = pools
        self.slots: list[tuple[float, float, float, float]] = []  # asked, granted, done, released
        self.throttles: list[tuple[float, float]] = []  # asked, may send

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        asked = time.time()
        with self.pools.slot(name):
            granted = time.time()
            try:
                yield
            finally:
                done = time.time()
        self.slots.append((asked, granted, done, time.time()))

    def throttle(self, name: str) -> None:
        asked = time.time()
        self.pools.throttle(name)
        self.throttles.append((asked, time.time()))


def worker(store: str, count: int) -> int:
    """One store: the real scrub task inside a flow (this process is one of N)."""
    from prefect import flow

    from blocks.dnc import DNCService
    from tasks.dnc import scrub_numbers
    from tasks.pools import PREFECT_POOLS

    pools = TimedPools(PREFECT_POOLS)

    @flow(name="dnc-pool-bench")
    def scrub_store(store_id: str, numbers: list[str]) -> int:
        client = DNCService.load(BLOCK).get_client(store_id, pools=pools)
        return len(scrub_numbers(client, numbers))

    began = time.time()
    answered = scrub_store(store, store_numbers(store, count))
    print(
        json.dumps(
            {
                "store": store,
                "answered": answered,
                "seconds": time.time() - began,
                "slots": pools.slots,
                "throttles": pools.throttles,
            }
        )
    )
    return 0


def peer(store: str, count: int, per_minute: float, batch_size: int) -> int:
    """One store of the static-split peer: a plain asyncio loop paced by aiolimiter at its share
    (`per_minute`), one request at a time as our worker sends them; a 429 waits its Retry-After.
    The block's URL and key come from the parent (`PEER_ENV`): no Prefect in this process."""
    import httpx
    from aiolimiter import AsyncLimiter

    url = f"{os.environ[PEER_ENV[0]].rstrip('/')}/dnc/scrub"
    headers = {"X-API-Key": os.environ[PEER_ENV[1]], "X-Store-Id": store}
    numbers = store_numbers(store, count)
    # A bucket of one: a share paced evenly, never a burst of the whole share at once.
    limiter = AsyncLimiter(1, 60.0 / per_minute)

    async def run() -> int:
        refused = 0
        async with httpx.AsyncClient(timeout=30) as http:
            for start in range(0, len(numbers), batch_size):
                body = {"numbers": numbers[start : start + batch_size], "ignore_invalid": True}
                while True:
                    async with limiter:
                        try:
                            response = await http.post(url, json=body, headers=headers)
                        except httpx.TransportError:  # a dropped connection: send it again
                            continue
                    if response.status_code != 429:
                        response.raise_for_status()
                        break
                    refused += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        return refused

    began = time.time()
    refused = asyncio.run(run())
    print(json.dumps({"store": store, "refused": refused, "seconds": time.time() - began}))
    return 0


def shares(shape: str, stores: int, numbers: int, batch_size: int) -> list[int]:
    """Numbers per store: `equal`, every store `numbers`; `uneven`, the same total with the first
    store four times each of the others (whole batches)."""
    if shape == "equal":
        return [numbers] * stores
    small = max(1, round(numbers * stores / (stores + 3) / batch_size)) * batch_size
    return [4 * small] + [small] * (stores - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=4)
    parser.add_argument("--rate", type=float, default=120, help="vendor limit, requests/minute")
    parser.add_argument("--burst", type=int, default=10, help="vendor burst")
    parser.add_argument("--numbers", type=int, default=300, help="numbers per store (equal)")
    parser.add_argument("--batch-size", type=int, default=5, help="numbers per request")
    parser.add_argument("--shapes", default="equal,uneven", help="equal, uneven or both")
    parser.add_argument("--no-peer", action="store_true", help="skip the static-split peer")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--peer-worker", help=argparse.SUPPRESS)
    parser.add_argument("--share", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.numbers)
    if args.peer_worker:
        return peer(args.peer_worker, args.numbers, args.share, args.batch_size)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = sorted(set(shapes) - {"equal", "uneven"})
    if unknown:
        parser.error(f"--shapes: unknown shape(s) {', '.join(unknown)} (equal, uneven)")

    from _harness import prefect_stack

    work = Path(tempfile.mkdtemp(prefix="bench-dnc-"))
    results: list[tuple[str, list[int], dict, dict | None]] = []
    # The registry on PostgreSQL too: the rate pools' pace lives there, shared as across machines.
    with prefect_stack(work, prefix="bench_dnc", registry=True) as stack:
        from blocks.sandbox import shared_block
        from multistore.pools import API_DNC, load_pools
        from sandbox.client import SandboxAdmin
        from tasks.pools import ensure_pools

        block = shared_block("dnc", stack.sandbox_url, batch_size=args.batch_size)
        block.save(BLOCK, overwrite=True)
        url, key = PEER_ENV
        peer_env = {url: block.base_url, key: block.api_key.get_secret_value()}
        # The pool as multistore/defaults/pools.yaml sizes it, for a vendor at --rate/--burst.
        pool = next(p for p in load_pools() if p.name == API_DNC)
        pool = scaled(pool, args.rate)
        asyncio.run(ensure_pools([pool]))
        admin = SandboxAdmin(stack.sandbox_url)
        admin.set_limits(dnc={"per_minute": args.rate, "burst": args.burst})
        try:
            for shape in shapes:
                counts = shares(shape, args.stores, args.numbers, args.batch_size)
                ours = _round(stack, admin, work, f"{shape}-ours", counts, [])
                theirs = None
                if not args.no_peer:
                    share = ["--share", str(args.rate / args.stores)]
                    extra = ["--batch-size", str(args.batch_size), *share]
                    theirs = _round(stack, admin, work, f"{shape}-peer", counts, extra, peer_env)
                results.append((shape, counts, ours, theirs))
        finally:
            admin.close()

    print(
        f"dnc pool: {args.stores} worker processes, batches of {args.batch_size}; vendor "
        f"{args.rate:g}/min burst {args.burst}; pool {pool.name} limit {pool.limit}, rate "
        f"{pool.per_minute:g}/min burst {pool.burst}"
    )
    for shape, counts, ours, theirs in results:
        requests = sum(-(-n // args.batch_size) for n in counts)
        print(f"{shape} stores (numbers per store {counts}, {requests} requests):")
        print(f"  achieved rate / R: {ours['per_minute'] / args.rate:.3f}")
        print(f"  429s: {ours['refused']}")
        timing = ours["timing"]
        print(
            f"  slots of {pool.name} taken: {timing['slots']}, median wait to take one "
            f"{timing['acquire']:.3f} s, to give it back {timing['release']:.3f} s; median "
            f"rate wait per request {timing['rate_wait']:.3f} s"
        )
        print(
            f"  window (the vendor's first to last accepted request) {ours['span']:.1f} s; "
            f"most in any 60 s: {ours['max_in_60s']} "
            f"(vendor allows {args.rate + args.burst:g})"
        )
        if theirs is not None:
            print(f"  static split achieved rate / R: {theirs['per_minute'] / args.rate:.3f}")
            print(
                f"  static split 429s: {theirs['refused']}; span {theirs['span']:.1f} s; "
                f"most in any 60 s: {theirs['max_in_60s']}"
            )
    print("target: ours ≥ 0.97 of R with zero 429s on equal and uneven stores")
    failed = [r for _, _, ours, theirs in results for r in (ours, theirs) if r and r["failed"]]
    if failed:
        print("workers failed: " + "; ".join(", ".join(r["failed"]) for r in failed))
        return 1
    return 0


def scaled(pool: PoolSpec, rate: float) -> PoolSpec:
    """The shipped pool, sized for the real vendor (120/min), for a vendor at `rate`."""
    return pool.model_copy(update={"per_minute": pool.per_minute * rate / VENDOR_RATE})


def _round(
    stack: Stack,
    admin: SandboxAdmin,
    work: Path,
    label: str,
    counts: list[int],
    extra: list[str],
    env: dict[str, str] | None = None,
) -> dict:
    """One set of N worker processes (ours, or the peer with `extra` and `env`); what the vendor
    saw."""
    from devtools.local import spawn

    flag = "--peer-worker" if extra else "--worker"
    admin.reset_counters()
    workers = [
        spawn(
            f"{label}-{n}",
            [sys.executable, __file__, flag, f"bench-{n:02d}", "--numbers", str(count), *extra],
            env={**os.environ, **(env or {})},
            log=work / f"{label}-{n}.log",
        )
        for n, count in enumerate(counts, start=1)
    ]
    stack.managed.extend(workers)
    failed = [f"{p.name} (log {p.log})" for p in workers if p.process.wait() != 0]
    counts_seen = admin.vendor_counts("dnc")
    times = sorted(admin.counters(detail=True)["accepted_times"].get("dnc", []))
    summary = admin.rate().get("dnc", {})
    span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
    return {
        "timing": None if extra else _timing([p.log for p in workers]),
        "failed": failed,
        "refused": counts_seen["rate_limited"],
        "span": span,
        "per_minute": (len(times) - 1) / span * 60 if len(times) > 1 else 0.0,
        "max_in_60s": summary.get("max_in_60s", 0),
    }


def _timing(logs: list[Path]) -> dict[str, float]:
    """Medians over every worker's requests (seconds): waiting for a slot, giving it back,
    waiting for the rate; and the slots taken."""
    slots: list[list[float]] = []
    throttles: list[list[float]] = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"slots"' in line:
                record = json.loads(line)
                slots += record["slots"]
                throttles += record["throttles"]
    return {
        "slots": len(slots),
        "acquire": _median([granted - asked for asked, granted, _, _ in slots]),
        "release": _median([released - done for _, _, done, released in slots]),
        "rate_wait": _median([ready - asked for asked, ready in throttles]),
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__":
    sys.exit(main())
