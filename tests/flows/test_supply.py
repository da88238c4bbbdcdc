"""The supply flow on the real Prefect server, its hub served by the sandbox: while the hub is
down the request waits (an event, an audit row), and when it is back it is approved and
scheduled once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from flows.supply import supply_pass
from multistore.db import session_scope
from multistore.network import supply
from multistore.network.config import parse
from multistore.network.models import SupplyRequest
from multistore.network.registry import Network
from multistore.pools import load_pools
from multistore.registry import Registry
from tasks.pools import ensure_pools
from tests.fixtures.prefect_server import stored_events


async def test_a_request_waits_for_its_hub_then_goes_through(prefect_server, sandbox) -> None:
    await ensure_pools(load_pools())
    network = Network()
    network.add_region(
        parse("regions", {"id": "west", "lat": 37, "lon": -120, "radius_km": 800}, where="")
    )
    network.add_hub(
        parse(
            "hubs",
            {
                "id": "west-hub",
                "region": "west",
                "lat": 37.3,
                "lon": -121.9,
                "api_url": f"{sandbox.url}/node/west-hub",
                "stock": {"cups": 10},
            },
            where="",
        )
    )
    Registry().add("sf-1")
    network.set_node(
        parse("nodes", {"store": "sf-1", "number": 1, "lat": 37.77, "lon": -122.42}, where="")
    )
    request, _ = supply.submit("sf-1", {"cups": 4}, now=datetime.now(UTC), key="sf-1-cups")
    sandbox.admin.set_faults([{"vendor": "node", "store": "west-hub", "outage": True}])
    since = datetime.now(UTC) - timedelta(seconds=5)

    first = await supply_pass()
    assert first["hubs_down"] == ["west-hub"] and first["steps"] == {"waiting": 1}
    assert [
        e.resource.id
        for e in await stored_events(name="multistore.supply.waiting", since=since, expected=1)
    ] == [f"multistore.supply.request.{request.id}"]

    sandbox.admin.clear_faults()
    with session_scope() as session:  # the backoff has passed (instead of waiting a minute)
        session.exec(
            update(SupplyRequest).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    second = await supply_pass()
    assert second["hubs_up"] == ["west-hub"] and second["steps"] == {"approved": 1, "scheduled": 1}
    assert (await supply_pass())["steps"] == {}  # nothing twice
    (only,) = supply.requests()
    assert only.status == "scheduled" and only.attempts == 2
    assert await stored_events(name="multistore.supply.scheduled", since=since, expected=1)
    assert [row.step for row in supply.audit()] == ["submitted", "waiting", "approved", "scheduled"]
