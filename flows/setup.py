"""`multistore setup`: make a Prefect server ready to run the registry's stores (idempotent).

1. register the block types (CRM credentials, DNC service, inventory sources, shortener), so
   they can be edited in the Prefect UI;
2. save a block document per store and role it uses (`crm-<id>`, `inventory-<id>`, or the names
   in the store's `blocks`) and the shared ones (`dnc-default`, `shortener-default`), pointing
   at the sandbox (settings.sandbox_url), overwriting what was there;
   and the store-node health settings (`store-nodes`) when there is none yet;
3. create or resize the pools from data/pools.yaml (global concurrency limits, rate limits),
   and the process work pool prefect.yaml deploys to;
4. create or update the shipped alerts (flows/alerts.py: automations notifying through the
   `multistore-alerts` webhook block, created when missing, never overwritten).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blocks.roles import BLOCK_TYPES, PER_STORE_ROLES, SHARED_ROLES, block_name
from blocks.sandbox import shared_block, store_block
from blocks.store_node import StoreNodeService
from flows.alerts import ensure_alerts
from flows.work_pools import ensure_process_pool
from multistore.pools import load_pools
from multistore.registry import Registry
from multistore.settings import get_settings
from tasks.pools import ensure_pools

STORE_NODES_BLOCK = "store-nodes"


async def setup(
    *, sandbox_url: str | None = None, pools_file: Path | None = None
) -> dict[str, Any]:
    """Do the three steps; what was registered, saved and created."""
    base_url = sandbox_url or get_settings().sandbox_url
    specs = load_pools(pools_file)  # a bad pools file fails before anything is written

    for block_type in (*BLOCK_TYPES.values(), StoreNodeService):
        await block_type.aregister_type_and_schema()

    saved: list[str] = []
    shared: dict[str, str] = {}  # document name → role
    for store in Registry().list():
        for role in PER_STORE_ROLES:
            name = block_name(store, role)
            await store_block(role, store.id, base_url).asave(name, overwrite=True)
            saved.append(name)
        for role in SHARED_ROLES:
            shared[block_name(store, role)] = role
    for role in SHARED_ROLES:
        shared.setdefault(f"{role}-default", role)
    for name, role in sorted(shared.items()):
        await shared_block(role, base_url).asave(name, overwrite=True)
        saved.append(name)

    if await _missing(StoreNodeService, STORE_NODES_BLOCK):  # keep what a user edited
        await StoreNodeService().asave(STORE_NODES_BLOCK)
    saved.append(STORE_NODES_BLOCK)

    await ensure_pools(specs)
    await ensure_process_pool()  # `prefect deploy` refuses a deployment whose pool is missing
    alerts = await ensure_alerts()
    return {
        "block_types": sorted(
            t.get_block_type_slug() for t in (*BLOCK_TYPES.values(), StoreNodeService)
        ),
        "documents": saved,
        "pools": [spec.name for spec in specs],
        "sandbox_url": base_url,
        "alerts": alerts,
    }


async def _missing(block_type: type, name: str) -> bool:
    try:
        await block_type.aload(name)
    except ValueError:
        return True
    return False
