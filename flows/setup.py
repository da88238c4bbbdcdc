"""`multistore setup`: make a Prefect server ready to run the registry's stores (idempotent).

1. register the block types (CRM credentials, DNC service, inventory sources, shortener), so
   they can be edited in the Prefect UI;
2. check that every block document the stores use exists (`crm-<id>`, `inventory-<id>`, or the
   names in a store's `blocks`, and the shared `dnc-default`, `shortener-default`). A document
   that exists is never touched: real credentials entered in the UI survive any number of runs
   (to resize a pool, say). Missing ones are reported; with `seed_sandbox` (the demo's and the
   tests' explicit step, `multistore setup --sandbox`) the missing ones are created pointing at
   the sandbox with its published test credentials, and a document that is still exactly what
   seeding wrote for a sandbox on another loopback port (the demo moved off a taken port) is
   re-pointed at this one; one a user changed in any field is left alone. The store-node health
   settings (`store-nodes`, no secret) are created with their defaults when missing;
3. create or resize the pools from pools.yaml (global concurrency limits, rate limits),
   and the process work pool prefect.yaml deploys to (and the Docker one, when asked);
4. create or update the shipped alerts (flows/alerts.py: automations notifying through the
   `multistore-alerts` webhook block, created when missing, never overwritten).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.context import AsyncClientContext

from blocks.roles import BLOCK_TYPES, PER_STORE_ROLES, SHARED_ROLES, block_name
from blocks.sandbox import shared_block, store_block
from blocks.store_node import StoreNodeService
from flows.alerts import ensure_alerts
from flows.work_pools import ensure_docker_pool, ensure_process_pool
from multistore.pools import PoolSpec, load_pools
from multistore.registry import Registry
from multistore.settings import get_settings
from tasks.pools import ensure_pools

PAGE = 200
STORE_NODES_BLOCK = "store-nodes"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


async def setup(
    *,
    sandbox_url: str | None = None,
    pools_file: Path | None = None,
    seed_sandbox: bool = False,
    docker_pool: bool = False,
) -> dict[str, Any]:
    """Do the three steps; what was registered, found, created, missing and sized."""
    specs = load_pools(pools_file)  # a bad pools file fails before anything is written
    # One Prefect client for every call below: each block load or save would otherwise make its
    # own, and a client's TLS context alone costs ~50 ms of CPU (some 40 of them per setup).
    async with AsyncClientContext.get_or_create():
        return await _setup(specs, sandbox_url, seed_sandbox=seed_sandbox, docker_pool=docker_pool)


async def _setup(
    specs: list[PoolSpec], sandbox_url: str | None, *, seed_sandbox: bool, docker_pool: bool
) -> dict[str, Any]:

    for block_type in (*BLOCK_TYPES.values(), StoreNodeService):
        await block_type.aregister_type_and_schema()

    wanted = _documents_wanted()
    existing = await _existing_documents()
    missing = [(name, role, store) for name, role, store in wanted if (role, name) not in existing]
    created: list[str] = []
    repointed: list[str] = []
    base_url = sandbox_url or get_settings().sandbox_url
    if seed_sandbox:
        for name, role, store in missing:
            await _sandbox_block(role, store, base_url).asave(name)  # it was missing just now
            created.append(name)
        for name, role, store in wanted:
            if (role, name) in existing and await _repoint(name, role, store, base_url):
                repointed.append(name)

    if await _missing(StoreNodeService, STORE_NODES_BLOCK):  # keep what a user edited
        await StoreNodeService().asave(STORE_NODES_BLOCK)
        created.append(STORE_NODES_BLOCK)

    await ensure_pools(specs)
    await ensure_process_pool()  # `prefect deploy` refuses a deployment whose pool is missing
    if docker_pool:
        await ensure_docker_pool()  # prefect.docker.yaml's deployments go there
    alerts = await ensure_alerts()
    return {
        "block_types": sorted(
            t.get_block_type_slug() for t in (*BLOCK_TYPES.values(), StoreNodeService)
        ),
        "documents": sorted([*(name for name, _, _ in wanted), STORE_NODES_BLOCK]),
        "created": sorted(created),
        "repointed": sorted(repointed),
        "missing": sorted(name for name, _, _ in missing if name not in created),
        "pools": [spec.name for spec in specs],
        "sandbox_url": base_url if seed_sandbox else None,
        "alerts": alerts,
    }


def _documents_wanted() -> list[tuple[str, str, str | None]]:
    """(document name, role, store id or None when shared) for every document a store uses."""
    wanted: dict[tuple[str, str], str | None] = {}
    for store in Registry().list():
        for role in PER_STORE_ROLES:
            wanted.setdefault((role, block_name(store, role)), store.id)
        for role in SHARED_ROLES:
            wanted.setdefault((role, block_name(store, role)), None)
    for role in SHARED_ROLES:
        wanted.setdefault((role, f"{role}-default"), None)
    return [(name, role, store) for (role, name), store in sorted(wanted.items())]


async def _existing_documents() -> set[tuple[str, str]]:
    """(role, name) of every saved document of our block types (no secrets read)."""
    found: set[tuple[str, str]] = set()
    async with get_client() as client:
        for role, block_type in BLOCK_TYPES.items():
            offset = 0
            while True:
                page = await client.read_block_documents_by_type(
                    block_type.get_block_type_slug(),
                    offset=offset,
                    limit=PAGE,
                    include_secrets=False,
                )
                found.update((role, doc.name) for doc in page if doc.name)
                if len(page) < PAGE:
                    break
                offset += PAGE
    return found


def _sandbox_block(role: str, store: str | None, base_url: str) -> Block:
    return store_block(role, store, base_url) if store else shared_block(role, base_url)


async def _repoint(name: str, role: str, store: str | None, base_url: str) -> bool:
    """Re-point a sandbox-seeded document at the sandbox on `base_url`, if it is one.

    It is one when it equals, field for field and secret for secret, what seeding writes for
    a sandbox on some loopback address: nobody has edited it, so no credential can be lost.
    """
    saved = await BLOCK_TYPES[role].aload(name)
    old_base = saved.base_url.rstrip("/").removesuffix("/crm" if role == "crm" else "")
    if old_base == base_url.rstrip("/") or urlsplit(old_base).hostname not in LOOPBACK:
        return False
    if _fields(saved) != _fields(_sandbox_block(role, store, old_base)):
        return False
    await _sandbox_block(role, store, base_url).asave(name, overwrite=True)
    return True


def _fields(block: Block) -> dict[str, Any]:
    return {field: getattr(block, field) for field in type(block).model_fields}


async def _missing(block_type: type, name: str) -> bool:
    try:
        await block_type.aload(name)
    except ValueError:
        return True
    return False
