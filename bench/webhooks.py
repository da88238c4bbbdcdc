"""Signed webhooks against `multistore serve`'s app (uvicorn on loopback, registry on SQLite by
default): the three schemes in turn, 5 % of deliveries sent twice (vendors retry), a dropped
connection or a 503 (the service shedding load) delivered again after a second, as a vendor
would, then every delivery read back from the registry.

    python bench/webhooks.py [--phases 1000x120,5000x60] [--postgres]

A phase `RATExSECONDS` sends RATE webhooks per minute for SECONDS. `--phases 600x3` is a smoke
run. Prints the lines a script reads: `webhooks sent`, `stored exactly once`, `lost`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass, field
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


# A vendor delivers again after a dropped connection or an answer other than 2xx (503 with
# Retry-After when the service sheds load); after this many tries the delivery counts as lost.
TRIES = 20
RETRYABLE = {429, 500, 502, 503, 504}
CONNECTIONS = 32


async def send(base: str, phases: list[tuple[int, float]], replay: float) -> Sent:
    """Send the phases on the wall clock, each delivery retried as a vendor would."""
    rng = np.random.default_rng(1)
    sent = Sent()
    # Deliveries due wait for one of CONNECTIONS in flight here, not in httpx's pool: httpcore
    # scans its whole queue of waiting requests at every step, so thousands queued there took
    # the sender's CPU (and the p99 with it) rather than measuring the service.
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    in_flight = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def deliver(path: str, body: bytes, headers: dict[str, str]) -> None:
            due = time.perf_counter()
            for _ in range(TRIES):
                try:
                    async with in_flight:
                        start = time.perf_counter()
                        answer = await client.post(path, content=body, headers=headers)
                except httpx.TransportError:  # a dropped connection: delivered again
                    sent.redelivered += 1
                    await asyncio.sleep(1.0)
                    continue
                sent.requests.append(time.perf_counter() - start)
                if answer.status_code == 200:
                    sent.acknowledged.append(time.perf_counter() - due)
                    return
                if answer.status_code not in RETRYABLE:
                    return  # refused for good: counts as lost
                sent.redelivered += 1
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))

        async def one(n: int) -> None:
            path, body, headers, _delivery = request_for(n)
            for _ in range(2 if rng.random() < replay else 1):
                await deliver(path, body, headers)

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
    sent.expected = {f"bench-{i}" for i in range(n)}
    return sent


@dataclass
class Sent:
    expected: set[str] = field(default_factory=set)
    requests: list[float] = field(default_factory=list)  # each answer's time on the wire
    acknowledged: list[float] = field(default_factory=list)  # due → 2xx, retries included
    redelivered: int = 0


def serve(port: int) -> None:
    """`multistore serve`'s app on `port`, the bench's secrets in place of the blocks."""
    from multistore.service import create_app

    app = create_app(prefect=PrefectAPI(""))
    app.state.channel_secrets = lambda store, channel: SECRETS.get(channel)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _answers(base: str) -> bool:
    try:
        httpx.get(f"{base}/channels/-/webhooks/-", timeout=1)
    except httpx.TransportError:
        return False
    return True


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
    port = free_port()
    # The service in a process of its own, as deployed: sharing the sender's interpreter (and
    # its GIL) measured the sender as much as the service.
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    while not _answers(base):
        if not server.is_alive():
            raise SystemExit("bench/webhooks.py: the service did not start")
        time.sleep(0.1)
    try:
        sent = asyncio.run(send(base, phases, args.replay))
    finally:
        server.terminate()
        server.join(10)
    with get_engine().connect() as conn:
        rows = conn.execute(
            text("SELECT delivery_id, count(*) FROM channel_webhooks GROUP BY delivery_id")
        ).all()
    if database is not None:
        from devtools.pgadmin import drop_database

        drop_database(database)
    stored = {d: c for d, c in rows}
    expected = sent.expected
    once = sum(1 for d in expected if stored.get(d) == 1)
    lost = sum(1 for d in expected if d not in stored)
    p99 = float(np.percentile(sent.acknowledged, 99)) * 1000 if sent.acknowledged else 0.0
    p99_request = float(np.percentile(sent.requests, 99)) * 1000 if sent.requests else 0.0
    print(
        f"requests (with replays and redeliveries): {len(sent.requests)}, "
        f"redelivered: {sent.redelivered}, p99 request ms: {p99_request:.1f}"
    )
    print(f"p99 acknowledgement ms (due to 2xx, redeliveries included): {p99:.1f}")
    print(f"webhooks sent: {len(expected)}")
    print(f"stored exactly once: {once}")
    print(f"lost: {lost}")


if __name__ == "__main__":
    main()
