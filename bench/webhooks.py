"""Signed webhooks against `multistore serve`'s app (uvicorn on loopback, registry on SQLite by
default): the three schemes in turn, 5 % of deliveries sent twice (vendors retry), then every
delivery read back from the registry.

    python bench/webhooks.py [--phases 1000x120,5000x60] [--postgres]

A phase `RATExSECONDS` sends RATE webhooks per minute for SECONDS. `--phases 600x3` is a smoke
run. Prints the lines a script reads: `webhooks sent`, `stored exactly once`, `lost`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from sqlalchemy import text

from devtools.local import free_port
from multistore.channels.webhooks import WebhookSecret, sign
from multistore.db import get_engine
from multistore.prefect_api import PrefectAPI
from multistore.settings import reset_settings

SECRETS = {
    "web": WebhookSecret("shopify", "bench-shopify"),
    "pos": WebhookSecret("square", "bench-square", "https://hooks.example.com/pos"),
    "rest": WebhookSecret("custom", "bench-custom"),
}


def request_for(n: int) -> tuple[str, bytes, dict[str, str], str]:
    channel = ("web", "pos", "rest")[n % 3]
    secret = SECRETS[channel]
    delivery = f"bench-{n}"
    payload = {"event_id": delivery, "sku": f"SKU-{n % 500}", "available": n % 17}
    body = json.dumps(payload).encode()
    headers = sign(secret, body)
    if secret.scheme == "shopify":
        headers["X-Shopify-Webhook-Id"] = delivery
    elif secret.scheme == "custom":
        headers["X-Multistore-Delivery"] = delivery
    return f"/channels/store-{n % 7}/webhooks/{channel}", body, headers, delivery


async def send(base: str, phases: list[tuple[int, float]], replay: float) -> tuple[set, list]:
    """Send the phases; returns every delivery id sent and each request's answer time."""
    rng = np.random.default_rng(1)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(n: int) -> None:
            path, body, headers, _delivery = request_for(n)
            for _ in range(2 if rng.random() < replay else 1):
                start = time.perf_counter()
                # An answer other than 200 is not retried: the delivery then counts as lost.
                await client.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - start)

        n, tasks = 0, []
        for per_minute, seconds in phases:
            interval, start = 60.0 / per_minute, time.perf_counter()
            for i in range(int(per_minute * seconds / 60)):
                # Paced on the wall clock: a slow answer does not slow the senders.
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(n)))
                n += 1
        await asyncio.gather(*tasks)
    return {f"bench-{i}" for i in range(n)}, latencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="1000x120,5000x60")
    parser.add_argument("--replay", type=float, default=0.05)
    parser.add_argument("--postgres", action="store_true", help="registry on PostgreSQL")
    args = parser.parse_args(argv)
    phases = [(int(r), float(s)) for r, s in (p.split("x") for p in args.phases.split(","))]

    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    os.environ["MULTISTORE_DATA_DIR"] = str(work)
    database = None
    if args.postgres:
        from devtools.pgadmin import create_database, database_url

        database = create_database("bench_webhooks")
        os.environ["MULTISTORE_DATABASE_URL"] = database_url(database)
    reset_settings()
    from multistore.service import create_app

    app = create_app(prefect=PrefectAPI(""))
    app.state.channel_secrets = lambda store, channel: SECRETS.get(channel)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        expected, latencies = asyncio.run(send(f"http://127.0.0.1:{port}", phases, args.replay))
    finally:
        server.should_exit = True
        thread.join(10)
    with get_engine().connect() as conn:
        rows = conn.execute(
            text("SELECT delivery_id, count(*) FROM channel_webhooks GROUP BY delivery_id")
        ).all()
    if database is not None:
        from devtools.pgadmin import drop_database

        drop_database(database)
    stored = {d: c for d, c in rows}
    once = sum(1 for d in expected if stored.get(d) == 1)
    lost = sum(1 for d in expected if d not in stored)
    p99 = float(np.percentile(latencies, 99)) * 1000 if latencies else 0.0
    print(f"requests (with replays): {len(latencies)}, p99 acknowledgement ms: {p99:.1f}")
    print(f"webhooks sent: {len(expected)}")
    print(f"stored exactly once: {once}")
    print(f"lost: {lost}")


if __name__ == "__main__":
    main()
