"""One heartbeat pass over 1,000 store nodes in the sandbox, 5% down and 5% slow.

    python bench/heartbeats.py [--nodes 1000] [--passes 4] [--slow-ms 2000]

The sandbox runs in its own process; the registry is a throwaway SQLite file. Each pass is what
the heartbeats flow's tasks do: read the targets, check every node (the store-node block's
defaults: 10 s timeout, 50 in flight), record. Pass 0 finds everyone up; then the down nodes
fail (half answer 503, half never answer) from a moment drawn in the minute after it. Passes are
one minute apart on a moved clock (each check stamped with its pass's start), so detection is
measured without waiting minutes: delay = (pass start + that pass's real duration) − the moment
the node went down. Prints `heartbeat pass / cadence: X` (the slowest pass / 60 s, target
≤ 0.25) and `worst detection delay s: Y` (target ≤ 120 + one pass).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

CADENCE = 60.0


def main(argv: list[str] | None = None) -> tuple[float, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--slow-ms", type=int, default=2000)
    parser.add_argument("--timeout", type=float, help="Check timeout, s (default: the block's)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-heartbeats-"))
    os.environ["MULTISTORE_DATA_DIR"] = str(work / "data")
    os.environ.pop("MULTISTORE_DATABASE_URL", None)

    from devtools.local import free_port, spawn, wait_http
    from multistore.settings import reset_settings

    reset_settings()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = spawn(
        "sandbox",
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ},
        log=work / "sandbox.log",
    )
    try:
        wait_http(f"{url}/admin/health", process=sandbox.process)
        return _run(args, url)
    finally:
        sandbox.stop()


def _run(args: argparse.Namespace, url: str) -> tuple[float, float]:
    from blocks.store_node import StoreNodeService
    from multistore.config import parse_store
    from multistore.network import heartbeat
    from multistore.network.config import parse
    from multistore.network.registry import Network
    from multistore.registry import Registry
    from sandbox.client import SandboxAdmin

    rng = random.Random(15)
    ids = [f"node-{i:04d}" for i in range(args.nodes)]
    Registry().import_stores([parse_store({"id": i}) for i in ids], merge=True)
    network = Network()
    document = {
        "regions": [
            parse("regions", {"id": "all", "lat": 39, "lon": -98, "radius_km": 3000}, where="")
        ],
        "nodes": [
            parse(
                "nodes",
                {
                    "store": store_id,
                    "number": n + 1,
                    "lat": rng.uniform(30, 46),
                    "lon": rng.uniform(-120, -75),
                    "api_url": f"{url}/node/{store_id}",
                },
                where="",
            )
            for n, store_id in enumerate(ids)
        ],
    }
    network.import_document(document)
    shuffled = rng.sample(ids, len(ids))
    share = max(1, len(ids) // 20)
    down, slow = shuffled[:share], shuffled[share : 2 * share]
    service = StoreNodeService()
    if args.timeout:
        service.timeout_seconds = args.timeout
    client = service.get_client()
    admin = SandboxAdmin(url)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    down_at = {s: t0 + timedelta(seconds=rng.uniform(0, CADENCE)) for s in down}
    detected: dict[str, float] = {}
    pass_seconds = []
    for number in range(args.passes + 1):
        at = t0 + timedelta(seconds=CADENCE * number)
        started = time.perf_counter()
        targets = heartbeat.targets()
        answers = asyncio.run(client.check_many(targets))
        checks = [
            heartbeat.Check(a.store_id, at, a.ok, a.latency_ms, a.error, a.machine_status)
            for a in answers
        ]
        transitions = heartbeat.record(checks)
        seconds = time.perf_counter() - started
        pass_seconds.append(seconds)
        for t in transitions:
            if not t.reachable:
                detected[t.store_id] = (at - down_at[t.store_id]).total_seconds() + seconds
        print(
            f"pass {number}: {len(checks)} nodes, {sum(c.ok for c in checks)} answered, "
            f"{sum(not t.reachable for t in transitions)} newly unreachable, {seconds:.2f} s"
        )
        if number == 0:
            half = len(down) // 2
            faults = [{"vendor": "node", "store": s, "outage": True} for s in down[:half]]
            faults += [{"vendor": "node", "store": s, "hang_rate": 1.0} for s in down[half:]]
            faults += [{"vendor": "node", "store": s, "latency_ms": args.slow_ms} for s in slow]
            admin.set_faults(faults)
    admin.close()
    missed = sorted(set(down) - set(detected))
    wrongly = sorted(set(detected) - set(down))
    print(
        f"down {len(down)}, slow {len(slow)}; missed {len(missed)}, wrongly marked {len(wrongly)}"
    )
    ratio = max(pass_seconds) / CADENCE
    worst = max(detected.values()) if detected else float("nan")
    print(f"heartbeat pass / cadence: {ratio:.3f}")
    print(f"worst detection delay s: {worst:.1f}")
    return ratio, worst


if __name__ == "__main__":
    main()
