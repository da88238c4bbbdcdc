"""channel-sync through the real Prefect server and the sandbox: a store with all five channels
synced end to end (blocks, untagged tasks, pool slots, artifact), then only the channels that got
webhooks (a conflict they show recorded); block secrets are not stored in the clear in the
server's database. The sync's logic (delta writes, every conflict kind) is proved in one process
by tests/channels/test_sync_in_process.py."""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client

from blocks.channels import SalesChannel
from flows.channel_sync import channel_sync
from multistore.channels.review import ConflictBook
from multistore.channels.stores import StoreChannels
from multistore.channels.webhooks import Delivery, WebhookInbox
from multistore.pools import CHANNEL_POOLS, load_pools
from multistore.registry import Registry
from sandbox import credentials
from tasks.pools import ensure_pools
from tests.fixtures.prefect_server import server_rows

pytestmark = [pytest.mark.prefect]

STORE = "store-0003"
SECRET = "whsec-0003-do-not-leak"
TYPES = ("shopify", "square", "ebay", "amazon", "custom")


def _setup(url: str) -> None:
    import asyncio

    # The clients hold slots of the vendors' shared pools; strict: a missing pool is an error.
    asyncio.run(ensure_pools(load_pools()))
    Registry().add(STORE)
    channels = StoreChannels()
    for n, kind in enumerate(TYPES):
        SalesChannel(
            type=kind, base_url=url, api_token=credentials.CHANNEL_TOKEN, webhook_secret=SECRET
        ).save(f"{kind}-{STORE}", overwrite=True)
        channels.connect(STORE, kind, kind, priority=len(TYPES) - n)
    SalesChannel(type="stockroom", base_url=url, api_token=credentials.CHANNEL_TOKEN).save(
        f"stockroom-{STORE}", overwrite=True
    )
    channels.set_policy(STORE, buffer_units=1)


async def _limits() -> dict[str, int]:
    async with get_client() as client:
        found = await client.read_global_concurrency_limits(limit=200)
    return {limit.name: limit.active_slots for limit in found}


async def _channel_task_tags() -> dict[str, list[str]]:
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    async with get_client() as client:
        runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="-channel-"))
        )
    return {run.name: run.tags for run in runs}


async def _artifact(key: str) -> list:
    async with get_client() as client:
        latest = await client.read_latest_artifacts()
    return [a for a in latest if a.key == key]


def test_a_store_with_five_channels_syncs_end_to_end(prefect_server, sandbox) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    sandbox.admin.configure(products_per_store=120)
    _setup(sandbox.url)
    result = channel_sync(STORE)
    (summary,) = result.values()
    by_channel = {row["channel"]: row for row in summary["channels"]}
    truth = sandbox.admin.channels_truth(STORE)
    assert set(by_channel) == set(TYPES)
    for kind in TYPES:
        assert by_channel[kind]["written"] == truth["writes"][kind] > 0
        assert by_channel[kind]["rate_limited"] == 0
    assert asyncio.run(_artifact(f"channel-sync-{STORE}"))
    # No task carries a tag (Prefect would check each against the server as the task starts,
    # with a client that does not retry): one read and one sync task run per channel.
    tags = asyncio.run(_channel_task_tags())
    assert {f"{step}-channel-{kind}" for step in ("read", "sync") for kind in TYPES} <= set(tags)
    assert not any(tags.values()), tags
    # Every channel's calls went through its vendor's pool, and gave every slot back.
    limits = asyncio.run(_limits())
    for pool in CHANNEL_POOLS.values():
        assert limits[pool] == 0

    # A price someone changed on Square (every conflict kind is found by the in-process test,
    # tests/channels/test_sync_in_process.py; here: the flow records and settles what it finds).
    price_sku = "P-000010"
    sandbox.admin.edit_listing(STORE, "square", price_sku, price=999.99)

    # Webhooks on two channels, three deliveries: one single-channel sync each, nothing to write.
    inbox = WebhookInbox()
    for n, kind in enumerate(("shopify", "shopify", "square")):
        inbox.store(STORE, kind, Delivery(f"d{n}", None), b"{}")
    again = channel_sync(from_webhooks=True)
    assert set(again) == {f"{STORE}:shopify", f"{STORE}:square"}
    assert all(row["written"] == 0 for s in again.values() for row in s["channels"])
    assert inbox.pending() == {}
    assert again[f"{STORE}:square"]["conflicts"] == {"price_discrepancy": 1}
    recorded = ConflictBook().list(STORE, status=None)
    assert {(c.kind, c.sku, c.channel) for c in recorded} == {
        ("price_discrepancy", price_sku, "square")
    }

    # Prefect keeps block secrets encrypted at rest: the secret is nowhere in its database.
    rows = server_rows(prefect_server, "SELECT data FROM block_document")
    assert rows and not any(SECRET in str(r[0]) for r in rows)
