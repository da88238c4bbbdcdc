"""Heartbeat transitions with a moved clock: unreachable after two silent minutes (from the
last answer, or the first check), reachable again at the next answer, each change once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from multistore.network import heartbeat
from multistore.network.config import parse
from multistore.network.heartbeat import Check
from multistore.network.registry import Network
from multistore.registry import Registry

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _pass(network: Network, minute: float, down: set[str], stores=("sf-1", "oak-1")):  # type: ignore[no-untyped-def]
    at = T0 + timedelta(minutes=minute)
    return heartbeat.record(
        [
            Check(
                s, at, s not in down, None if s in down else 12.0, "HTTP 503" if s in down else None
            )
            for s in stores
        ],
        network.url,
    )


def test_unreachable_after_two_silent_minutes_then_reachable_again(network: Network) -> None:
    assert _pass(network, 0, set()) == []
    assert _pass(network, 1, {"sf-1"}) == []
    assert _pass(network, 1.99, {"sf-1"}) == []
    assert [t.store_id for t in _pass(network, 2, {"sf-1"})] == ["sf-1"]
    health = {n.store_id: h for n, h in network.nodes() if h is not None}
    assert health["sf-1"].reachable is False and health["sf-1"].last_error == "HTTP 503"
    assert health["oak-1"].reachable is True


def test_each_transition_is_reported_once(network: Network) -> None:
    _pass(network, 0, set())
    _pass(network, 1, {"sf-1"})
    went = _pass(network, 2.5, {"sf-1"})
    assert [(t.store_id, t.reachable, t.event) for t in went] == [
        ("sf-1", False, "multistore.node.unreachable")
    ]
    assert went[0].last_seen_at == T0
    assert _pass(network, 3.5, {"sf-1"}) == []  # still down: no new event
    back = _pass(network, 4.5, set())
    assert [(t.store_id, t.reachable) for t in back] == [("sf-1", True)]
    assert _pass(network, 5.5, set()) == []
    health = {n.store_id: h for n, h in network.nodes() if h is not None}
    assert health["sf-1"].reachable and health["sf-1"].last_seen_at == T0 + timedelta(minutes=5.5)
    assert health["oak-1"].latency_ms == 12.0


def test_a_node_that_never_answered_counts_from_its_first_check(network: Network) -> None:
    assert _pass(network, 0, {"sf-1"}) == []
    assert _pass(network, 1.9, {"sf-1"}) == []
    assert [t.store_id for t in _pass(network, 2.0, {"sf-1"})] == ["sf-1"]


def test_flapping_node_within_two_minutes_never_goes_unreachable(network: Network) -> None:
    for minute in range(10):
        assert _pass(network, minute, {"sf-1"} if minute % 2 else set()) == []


def test_targets_follow_the_registry_without_a_restart(network: Network) -> None:
    assert heartbeat.targets(network.url) == []  # no API URLs yet
    for store_id, number in (("sf-1", 1), ("oak-1", 2)):
        node = network.node(store_id)
        network.set_node(
            parse(
                "nodes",
                {
                    "store": store_id,
                    "number": number,
                    "lat": node.lat,
                    "lon": node.lon,
                    "api_url": f"http://n/{store_id}",
                },
                where="",
            )
        )
    assert [s for s, _ in heartbeat.targets(network.url)] == ["oak-1", "sf-1"]
    Registry(network.url).disable("oak-1")
    Registry(network.url).remove("sf-1")
    assert heartbeat.targets(network.url) == []
