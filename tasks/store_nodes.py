"""Store nodes: which to check, the health checks of one pass, recording what they saw."""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from blocks.store_node import StoreNodeService
from multistore.network import heartbeat
from multistore.pools import API_NODES, load_pools
from tasks.pools import apool_slot


@task(name="store-node-targets", cache_policy=NONE)
def node_targets() -> list[tuple[str, str]]:
    """Every enabled store node with an API, read at each pass (no restart for new stores)."""
    return heartbeat.targets()


@task(name="store-node-checks", cache_policy=NONE)
async def check_nodes(
    nodes: list[tuple[str, str]], service: StoreNodeService, at: datetime
) -> list[heartbeat.Check]:
    """One health check per node, at most the pool's size in flight (across workers too)."""
    pool_size = next((p.limit for p in load_pools() if p.name == API_NODES), service.max_concurrent)
    client = service.get_client()
    client.max_concurrent = max(1, min(client.max_concurrent, pool_size))
    if not nodes:
        return []
    async with apool_slot(API_NODES, occupy=client.max_concurrent):
        answers = await client.check_many(nodes)
    return [
        heartbeat.Check(a.store_id, at, a.ok, a.latency_ms, a.error, a.machine_status)
        for a in answers
    ]


@task(name="store-node-record", cache_policy=NONE)
def record_checks(checks: list[heartbeat.Check]) -> list[heartbeat.Transition]:
    transitions = heartbeat.record(checks)
    logger = get_run_logger()
    for t in transitions:
        state = "reachable again" if t.reachable else f"UNREACHABLE ({t.reason})"
        logger.warning("store node %s: %s", t.store_id, state)
    return transitions
