"""What the sandbox costs and whether its rate limit holds, in ratios.

    python bench/sandbox_service.py [--stores 1000] [--contacts 100000] [--pages 300]
                                    [--seconds 10] [--per-minute 600] [--burst 10]

1. Laziness: a sandbox for stores × contacts serves random pages of random stores; prints memory
   grown per page served, and that growth over what holding every contact would take (~1 KB each).
   Target: ratio ≪ 0.001 (memory follows what is served, not the configured size).
2. Rate limit: 8 threads hammer the DNC scrub for `--seconds`; prints accepted calls over what the
   bucket allows (burst + rate × elapsed). Target: ≤ 1.0 and ≥ 0.9 (the limit holds and is usable).
"""

from __future__ import annotations

import argparse
import random
import resource
import threading
import time

import httpx

from sandbox.client import SandboxAdmin
from sandbox.config import Limit, SandboxConfig
from sandbox.server import serve_in_thread

CONTACT_BYTES = 1024


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def laziness(url: str, stores: int, contacts: int, pages: int) -> None:
    form = {"grant_type": "client_credentials", "client_id": "b", "client_secret": "sandbox-secret"}
    token = httpx.post(f"{url}/crm/oauth/token", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "api_key": "sandbox-key"}
    rng = random.Random(1)
    before = rss_mb()
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers) as http:
        for _ in range(pages):
            store = f"store-{rng.randint(1, stores):04d}"
            page = rng.randint(1, contacts // 100)
            http.get(f"/crm/dealers/{store}/contacts", params={"page": page}).raise_for_status()
    elapsed = time.perf_counter() - started
    grown = max(0.0, rss_mb() - before)
    naive = stores * contacts * CONTACT_BYTES / 2**20
    print(
        f"laziness: {pages} pages of 100 contacts in {elapsed:.1f} s "
        f"({pages * 100 / elapsed:,.0f} contacts/s served)"
    )
    print(
        f"  memory grown {grown:.1f} MB; holding all {stores * contacts:,} contacts ≈ "
        f"{naive:,.0f} MB; ratio {grown / naive:.6f}"
    )


def rate_limit(url: str, seconds: float, per_minute: float, burst: int) -> None:
    admin = SandboxAdmin(url)
    admin.set_limits(dnc={"per_minute": per_minute, "burst": burst})
    admin.reset_counters()
    stop = time.monotonic() + seconds
    body = {"numbers": ["2135550142"] * 100}

    def hammer() -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": "sandbox-dnc-key"}) as http:
            while time.monotonic() < stop:
                http.post("/dnc/scrub", json=body)

    started = time.monotonic()
    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    counts = admin.vendor_counts("dnc")
    allowed = burst + per_minute / 60 * elapsed
    print(
        f"rate limit: {counts['requests']} calls in {elapsed:.1f} s, {counts['accepted']} accepted,"
        f" {counts['rate_limited']} answered 429"
    )
    print(f"  accepted / allowed (burst + rate × time) = {counts['accepted'] / allowed:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--per-minute", type=float, default=600)
    parser.add_argument("--burst", type=int, default=10)
    args = parser.parse_args()
    config = SandboxConfig(
        stores=args.stores,
        contacts_per_store=args.contacts,
        limits={"dnc": Limit(per_minute=args.per_minute, burst=args.burst)},
    )
    handle = serve_in_thread(config)
    try:
        laziness(handle.url, args.stores, args.contacts, args.pages)
        rate_limit(handle.url, args.seconds, args.per_minute, args.burst)
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
