"""A full channel sync of one store against the sandbox (in a thread, real HTTP on loopback):
calls made against the lower bound, 429s, and Shopify's achieved rate against its leaky bucket.

    python bench/channel_sync.py [--products 10000]

The lower bound per channel is ceil(listed / page size) reads + ceil(changes / batch size)
writes (five calls per Amazon feed: it is asynchronous), plus one page of Shopify's and one of
Square's orders (the clients read them for duplicate sales; the benchmark sells nothing, so one
page holds them).
Shopify's bucket (40, leaking 2/s) binds once a sync needs more than 40 calls; the rate line is
its calls past the burst per second of its span (first call to last) over 2. A second sync,
with nothing changed, must write nothing. `--products 300` is a smoke run.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

from multistore.channels.allocation import Channel, Policy
from multistore.channels.connectors import CLIENTS, ChannelConfig, StockroomClient
from multistore.channels.reservations import Reservations
from multistore.channels.sync import sync_store
from multistore.settings import reset_settings
from sandbox import credentials
from sandbox.client import SandboxAdmin
from sandbox.config import SandboxConfig
from sandbox.server import serve_in_thread

STORE = "store-0001"
PAGES = {"shopify": 250, "square": 1000, "ebay": 200, "amazon": 1000, "custom": 500}
# An Amazon feed is at least: create document, upload, create feed, one poll, read the report.
FEED_CALLS = 5
ORDER_PAGES = {"shopify": 1, "square": 1}
SHOPIFY_BURST, SHOPIFY_LEAK = 40, 2.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args(argv)
    os.environ["MULTISTORE_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-channel-sync-")
    reset_settings()
    handle = serve_in_thread(SandboxConfig(products_per_store=args.products))
    try:
        config = ChannelConfig(handle.url, credentials.CHANNEL_TOKEN, STORE)
        clients = {name: cls(config) for name, cls in CLIENTS.items()}
        priorities = {"shopify": 3, "square": 2, "ebay": 1, "amazon": 1, "custom": 1}
        policy = Policy(
            tuple(Channel(n, priority=p) for n, p in priorities.items()), buffer_percent=5
        )
        book = Reservations()
        start = time.perf_counter()
        reports = sync_store(STORE, policy, StockroomClient(config), clients, book)
        seconds = time.perf_counter() - start
        shopify_span = clients["shopify"].last_call_at - clients["shopify"].first_call_at
        again = sync_store(STORE, policy, StockroomClient(config), clients, book)
        counts = SandboxAdmin(handle.url).counters()
    finally:
        handle.stop()

    calls = bound = 0
    for name, r in reports.items():
        writes = math.ceil(r.changes / clients[name].batch_size)
        low = math.ceil(r.listed / PAGES[name]) + writes * (FEED_CALLS if name == "amazon" else 1)
        low += ORDER_PAGES.get(name, 0)
        calls, bound = calls + r.calls, bound + low
        print(
            f"{name}: {r.changes} changes, {r.calls} calls (lower bound {low}), "
            f"{len(r.failed)} failed"
        )
    shopify = reports["shopify"].calls
    if shopify > SHOPIFY_BURST:
        # Past the burst the bucket allows 2 calls a second: the calls beyond it, over the span
        # from Shopify's first call to its last (time it sat idle between its read and its
        # write counts against it), against that.
        rate = (shopify - SHOPIFY_BURST) / shopify_span / SHOPIFY_LEAK
        print(f"shopify rate / limit: {rate:.2f}")
    throttled = sum(v.get("rate_limited", 0) for v in counts["vendors"].values())
    print(f"second sync writes: {sum(r.written for r in again.values())}")
    print(f"sync seconds: {seconds:.1f}")
    print(f"calls / lower bound: {calls / bound:.3f}")
    print(f"429s: {throttled}")


if __name__ == "__main__":
    main()
