"""heartbeats: check every store node once, mark the silent ones unreachable (deployed every
minute).

1. the store nodes to check: every enabled store with an API URL, read now;
2. check them all, at most the `api:nodes` pool's size in flight;
3. record last seen and latency; a node silent for two minutes becomes unreachable, one that
   answers again reachable (multistore.network.heartbeat);
4. emit each transition as an event (`multistore.node.unreachable` / `.reachable`) for
   automations, and return the pass's counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event

from blocks.store_node import StoreNodeService
from flows.setup import STORE_NODES_BLOCK
from multistore.registry import Registry
from tasks.store_nodes import check_nodes, node_targets, record_checks


@flow(name="heartbeats", log_prints=False)
async def heartbeats(block: str = STORE_NODES_BLOCK) -> dict[str, Any]:
    """One pass over every store node; returns counts and the pass's duration."""
    started = time.perf_counter()
    at = datetime.now(UTC)
    service = await load_service(block)
    nodes = node_targets()
    checks = await check_nodes(nodes, service, at)
    transitions = record_checks(checks)
    if transitions:
        stores = {store.id: store for store in Registry().list()}
        for t in transitions:
            emit_event(**t.as_event(stores.get(t.store_id) or _Gone(t.store_id)))
    summary = {
        "checked": len(checks),
        "answered": sum(c.ok for c in checks),
        "failed": [c.store_id for c in checks if not c.ok],
        "unreachable": [t.store_id for t in transitions if not t.reachable],
        "reachable_again": [t.store_id for t in transitions if t.reachable],
        "seconds": round(time.perf_counter() - started, 3),
    }
    get_run_logger().info(
        "%d nodes checked, %d answered, %d newly unreachable, %d back, in %.1f s",
        summary["checked"],
        summary["answered"],
        len(summary["unreachable"]),
        len(summary["reachable_again"]),
        summary["seconds"],
    )
    return summary


async def load_service(name: str) -> StoreNodeService:
    """The block document, or the defaults when none was saved (it holds no secret)."""
    try:
        return await StoreNodeService.aload(name)
    except ValueError:
        get_run_logger().info("block %r not found: default timeouts and concurrency", name)
        return StoreNodeService()


@dataclass(frozen=True)
class _Gone:
    """A store removed while its node was being checked: its id is all there is."""

    id: str
    name: str = ""
    priority: str = ""
    region: str = ""
