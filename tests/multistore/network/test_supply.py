"""Supply requests → hub decisions → deliveries → confirmations: the documented rules, the
audit trail, and a hub that is down (requests wait and are retried, never lost or doubled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from multistore.network import supply
from multistore.network.config import parse
from multistore.network.registry import Network, NetworkError

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def stocked(network: Network) -> Network:
    hub = network.hub("west-hub")
    spec = parse(
        "hubs",
        {
            "id": hub.id,
            "region": "west",
            "lat": hub.lat,
            "lon": hub.lon,
            "stock": {"cups": 100, "lids": 10},
            "max_units_per_request": 60,
        },
        where="",
    )
    network.add_hub(spec, replace=True)
    return network


def test_request_approved_scheduled_delivered_with_audit(stocked: Network) -> None:
    url = stocked.url
    a, steps = supply.submit("la-1", {"cups": 20}, now=T0, url=url, key="la-1-1")
    b, _ = supply.submit("sf-1", {"cups": 5, "lids": 2}, now=T0, url=url)
    c, _ = supply.submit("oak-1", {"cups": 1}, now=T0, url=url)
    assert [s.kind for s in steps] == ["submitted"]
    again, steps = supply.submit("la-1", {"cups": 20}, now=T0, url=url, key="la-1-1")
    assert again.id == a.id and steps == []  # a resubmission is the same request

    steps = supply.process(T0, {"west-hub"}, url=url)
    assert [s.kind for s in steps] == ["approved", "approved", "approved", "scheduled"]
    assert stocked.hub("west-hub").stock == {"cups": 74, "lids": 8}
    (delivery,) = supply.deliveries(url)
    # Nearest neighbour from the hub (San Jose): SF area first, LA last.
    assert delivery.stops == ["sf-1", "oak-1", "la-1"] or delivery.stops == [
        "oak-1",
        "sf-1",
        "la-1",
    ]
    assert delivery.distance_km > 0 and sorted(delivery.request_ids) == sorted([a.id, b.id, c.id])
    assert supply.process(T0, {"west-hub"}, url=url) == []  # nothing decided or scheduled twice

    with pytest.raises(
        NetworkError, match=f"delivery {delivery.id}: stop 'ny-1' is not a store of region 'west'"
    ):
        supply.confirm(delivery.id, ["ny-1"], now=T0, url=url)
    steps = supply.confirm(delivery.id, ["la-1"], now=T0, url=url)
    assert [s.kind for s in steps] == ["stop-confirmed"]
    steps = supply.confirm(delivery.id, None, now=T0 + timedelta(hours=3), url=url)
    assert [s.kind for s in steps] == ["stop-confirmed", "stop-confirmed", "delivered"]
    assert {r.status for r in supply.requests(url=url)} == {"delivered"}
    trail = [(row.step, row.request_id, row.delivery_id) for row in supply.audit(url)]
    assert trail.count(("submitted", a.id, None)) == 1
    assert ("approved", a.id, None) in trail and ("delivered", None, delivery.id) in trail


def test_rules_urgent_first_limit_and_stock(stocked: Network) -> None:
    url = stocked.url
    low, _ = supply.submit("sf-1", {"lids": 8}, urgency="low", now=T0, url=url)
    critical, _ = supply.submit(
        "oak-1", {"lids": 8}, urgency="critical", now=T0 + timedelta(seconds=1), url=url
    )
    big, _ = supply.submit("la-1", {"cups": 61}, now=T0, url=url)
    steps = {
        s.request_id: s for s in supply.process(T0 + timedelta(minutes=1), {"west-hub"}, url=url)
    }
    assert steps[critical.id].kind == "approved"  # urgent first, though it came later
    assert (
        steps[low.id].kind == "rejected"
        and "lids: 2 on hand at west-hub, 8 asked" in steps[low.id].detail
    )
    assert (
        steps[big.id].kind == "rejected"
        and "61 units exceed the hub's limit of 60" in steps[big.id].detail
    )
    assert stocked.hub("west-hub").stock == {"cups": 100, "lids": 2}


def test_a_hub_that_is_down_makes_requests_wait_then_they_go_through(stocked: Network) -> None:
    url = stocked.url
    request, _ = supply.submit("sf-1", {"cups": 3}, now=T0, url=url)
    assert supply.waiting_hubs(T0, url) == [("west-hub", None)]
    steps = supply.process(T0, set(), url=url)  # the hub is down
    assert [s.kind for s in steps] == ["waiting"]
    assert supply.waiting_hubs(T0 + timedelta(seconds=30), url) == []  # backing off (1 minute)
    assert supply.process(T0 + timedelta(seconds=30), set(), url=url) == []
    steps = supply.process(T0 + timedelta(minutes=1), set(), url=url)
    assert [s.kind for s in steps] == ["waiting"] and "try 2 failed" in steps[0].detail
    steps = supply.process(T0 + timedelta(minutes=3), {"west-hub"}, url=url)
    assert [s.kind for s in steps] == ["approved", "scheduled"]
    (only,) = supply.requests(url=url)
    assert only.id == request.id and only.status == "scheduled" and only.attempts == 3


def test_bad_requests_are_one_line(stocked: Network) -> None:
    with pytest.raises(NetworkError, match="urgency 'asap' is not one of"):
        supply.submit("sf-1", {"cups": 1}, urgency="asap", now=T0, url=stocked.url)
    with pytest.raises(NetworkError, match="item 'cups': units 0 is not a whole number > 0"):
        supply.submit("sf-1", {"cups": 0}, now=T0, url=stocked.url)
    with pytest.raises(NetworkError, match="store 'nope': no such store"):
        supply.submit("nope", {"cups": 1}, now=T0, url=stocked.url)
    assert supply.requests(url=stocked.url) == []


def test_nearest_neighbour_route() -> None:
    order, km = supply.nearest_neighbour_route(
        (0.0, 0.0), {"far": (0.0, 3.0), "near": (0.0, 1.0), "mid": (0.0, 2.0)}
    )
    assert order == ["near", "mid", "far"]
    assert km == pytest.approx(2 * 3 * 111.19, rel=1e-3)
