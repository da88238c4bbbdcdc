"""The heartbeats flow on the real Prefect server against the sandbox's store nodes: a node
silent for over two minutes becomes unreachable and one that answers again reachable, each
an event; a store added between passes is checked without a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.heartbeats import heartbeats
from multistore.db import session_scope
from multistore.network.config import parse
from multistore.network.models import NodeHealth
from multistore.network.registry import Network
from multistore.pools import load_pools
from multistore.registry import Registry
from tasks.pools import ensure_pools
from tests.fixtures.prefect_server import stored_events


def _place(network: Network, store_id: str, number: int, base_url: str) -> None:
    Registry().add(store_id)
    network.set_node(
        parse(
            "nodes",
            {
                "store": store_id,
                "number": number,
                "lat": 37.0,
                "lon": -120.0 + number / 10,
                "api_url": f"{base_url}/node/{store_id}",
            },
            where="",
        )
    )


async def test_a_pass_marks_transitions_and_emits_them(prefect_server, sandbox) -> None:
    await ensure_pools(load_pools())
    network = Network()
    network.add_region(
        parse("regions", {"id": "west", "lat": 37, "lon": -120, "radius_km": 800}, where="")
    )
    for number, store_id in enumerate(("n-up", "n-down", "n-back"), start=1):
        _place(network, store_id, number, sandbox.url)
    sandbox.admin.set_faults([{"vendor": "node", "store": "n-down", "outage": True}])
    three_minutes_ago = datetime.now(UTC) - timedelta(minutes=3)
    with session_scope() as session:  # what earlier passes saw (instead of waiting minutes)
        session.add(
            NodeHealth(
                store_id="n-down",
                reachable=True,
                first_checked_at=three_minutes_ago,
                last_seen_at=three_minutes_ago,
            )
        )
        session.add(
            NodeHealth(store_id="n-back", reachable=False, first_checked_at=three_minutes_ago)
        )
    since = datetime.now(UTC) - timedelta(seconds=5)

    summary = await heartbeats()

    assert summary["checked"] == 3 and summary["failed"] == ["n-down"]
    assert summary["unreachable"] == ["n-down"] and summary["reachable_again"] == ["n-back"]
    health = {node.store_id: h for node, h in network.nodes()}
    assert health["n-down"].reachable is False and "503" in health["n-down"].last_error
    assert health["n-up"].reachable and health["n-up"].latency_ms > 0
    down = await stored_events(name="multistore.node.unreachable", since=since, expected=1)
    back = await stored_events(name="multistore.node.reachable", since=since, expected=1)
    assert [e.resource.id for e in down] == ["multistore.store.n-down"]
    assert [e.resource.id for e in back] == ["multistore.store.n-back"]
    assert down[0].resource["multistore.store"] == "n-down"  # the store events' shape (alerts)
    assert "503" in down[0].payload["reason"]

    _place(network, "n-new", 4, sandbox.url)  # no restart: the next pass checks it
    Registry().remove("n-up")
    summary = await heartbeats()
    assert (
        summary["checked"] == 3
        and summary["unreachable"] == []
        and summary["reachable_again"] == []
    )
    assert {n.store_id for n, h in network.nodes() if h is not None and h.last_seen_at} >= {
        "n-new",
        "n-back",
    }
