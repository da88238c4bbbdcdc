"""`channel-sync`: one store's sales channels brought to what the store can sell.

Recipe: read what each channel (or the one asked for) shows → read on hand from the store's
inventory system → record what each channel sold since the last sync, and read its sales history
and the store's forecast → allocate (policy of the store) → write to each channel what differs, each
write conditional on what was read (no sale in between is written over) → conflicts found,
recorded and settled by the store's policy → a report artifact per channel (writes, calls, 429s,
conflicts found and resolved), and what each channel was left showing (the next sync's drops
are its sales). With `from_webhooks`, each store and channel that received
webhooks since the last pass gets one single-channel sync, however many webhooks came.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from blocks.channels import SalesChannel
from multistore.channels.review import ConflictBook
from multistore.channels.stores import StoreChannels
from multistore.channels.sync import left_showing, reading_order
from multistore.channels.webhooks import WebhookInbox
from multistore.settings import get_settings
from tasks.channels import (
    allocate_task,
    find_conflicts_task,
    read_channel_task,
    read_stock_task,
    record_levels_task,
    sync_channel_task,
    weigh_task,
)
from tasks.pools import PREFECT_POOLS


@flow(name="channel-sync")
def channel_sync(
    store_id: str | None = None, channel: str | None = None, from_webhooks: bool = False
) -> dict[str, Any]:
    """Sync `store_id` (every store with channels when None), all its channels or `channel`."""
    if from_webhooks:
        inbox = WebhookInbox()
        runs = [key for key in inbox.pending() if inbox.claim(*key)]
    else:
        stores = [store_id] if store_id else sorted({c.store_id for c in StoreChannels().list()})
        runs = [(s, channel) for s in stores]
    return {f"{s}:{c or '*'}": sync_one_store(s, c) for s, c in runs}


def sync_one_store(store_id: str, only: str | None) -> dict[str, Any]:
    logger = get_run_logger()
    settings = StoreChannels()
    policy, conflict_policy = settings.policy(store_id)
    rows = {c.name: c for c in settings.list(store_id) if c.enabled}
    if only is not None and only not in rows:
        raise ValueError(f"store {store_id}: no enabled channel {only!r}")
    names = [only] if only else list(rows)
    clients = {
        n: SalesChannel.load(rows[n].block, _sync=True).get_client(store_id, pools=PREFECT_POOLS)
        for n in names
    }
    shown = {
        n: read_channel_task.with_options(task_run_name=f"read-channel-{n}")(n, clients[n])
        for n in reading_order(names)
    }
    stockroom = SalesChannel.load(f"stockroom-{store_id}", _sync=True).get_client(
        store_id, pools=PREFECT_POOLS
    )
    stock = read_stock_task(store_id, stockroom)
    weighed = weigh_task(store_id, policy, shown, get_settings().data_dir)
    allocation = allocate_task(stock, policy, weighed)
    reports = {
        name: sync_channel_task.with_options(task_run_name=f"sync-channel-{name}")(
            name, client, allocation[name], shown[name]
        )
        for name, client in clients.items()
    }
    record_levels_task(store_id, {n: left_showing(n, allocation[n], r) for n, r in reports.items()})
    found = find_conflicts_task(allocation, stock, shown, reports, weighed.sold)
    book = ConflictBook()
    book.record(store_id, found)
    book.record_syncs(store_id, {name: not (found["channel"] == name).any() for name in reports})
    settled = book.settle(store_id, conflict_policy, weights=book.reliability(store_id))
    rows_out = [
        {
            **{k: v for k, v in r.to_dict().items() if k != "failed"},
            "failed": len(r.failed),
            "conflicts_found": int((found["channel"] == name).sum()),
        }
        for name, r in reports.items()
    ]
    create_table_artifact(
        key=f"channel-sync-{store_id}".lower(),
        table=rows_out,
        description=f"channel sync of {store_id}: {settled['resolved']} conflicts resolved, "
        f"{settled['queued']} queued for review",
    )
    for name, r in reports.items():
        for sku, reason in list(r.failed.items())[:20]:
            logger.warning("store %s channel %s: %s not written: %s", store_id, name, sku, reason)
    kinds = found["kind"].value_counts().to_dict()
    return {
        "channels": rows_out,
        "conflicts": {str(k): int(v) for k, v in kinds.items()},
        **settled,
    }
