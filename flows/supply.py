"""supply: the hubs decide their waiting supply requests and schedule deliveries (deployed
every five minutes).

1. the hubs with requests due for a decision;
2. check that each is up (its API's health, with the store-node client; a hub without an API
   URL is run from this registry and is up);
3. decide and schedule (multistore.network.supply): a hub that is down makes its requests
   wait, retried with backoff at later passes;
4. emit every step as an event (`multistore.supply.<step>`); each is an audit row already.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.events import emit_event

from flows.heartbeats import load_service
from flows.setup import STORE_NODES_BLOCK
from multistore.network import supply
from tasks.store_nodes import check_nodes


@task(name="supply-waiting-hubs", cache_policy=NONE)
def waiting_hubs(now: datetime) -> list[tuple[str, str | None]]:
    return supply.waiting_hubs(now)


@task(name="supply-decide-and-schedule", cache_policy=NONE)
def decide(now: datetime, hubs_up: list[str]) -> list[supply.Step]:
    return supply.process(now, hubs_up)


@flow(name="supply")
async def supply_pass(block: str = STORE_NODES_BLOCK) -> dict[str, Any]:
    """One pass over the hubs' waiting requests."""
    now = datetime.now(UTC)
    hubs = waiting_hubs(now)
    with_api = [(hub_id, api_url) for hub_id, api_url in hubs if api_url]
    checks = await check_nodes(with_api, await load_service(block), now) if with_api else []
    up = [hub_id for hub_id, api_url in hubs if not api_url]
    up += [c.store_id for c in checks if c.ok]
    steps = decide(now, up)
    for step in steps:
        emit_event(**step.as_event())
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.kind] = counts.get(step.kind, 0) + 1
    down = sorted({h for h, _ in hubs} - set(up))
    get_run_logger().info("hubs up %s, down %s; %s", sorted(up), down, counts or "nothing to do")
    return {"hubs_up": sorted(up), "hubs_down": down, "steps": counts}
