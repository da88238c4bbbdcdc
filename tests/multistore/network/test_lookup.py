"""Nearest healthy store and hub discovery: same region first, then any; unreachable stores are
never chosen; failover from a store never answers that store."""

from __future__ import annotations

import numpy as np
import pytest

from multistore.db import session_scope
from multistore.network.geo import PointIndex, haversine_km
from multistore.network.lookup import hub_answer, nearest_answer
from multistore.network.models import NodeHealth
from multistore.network.registry import Network, NetworkError


def _down(network: Network, *store_ids: str) -> None:
    with session_scope(network.url) as session:
        for store_id in store_ids:
            session.merge(NodeHealth(store_id=store_id, reachable=False))


def test_haversine_matches_a_known_distance() -> None:
    # San Francisco → New York, about 4,130 km.
    assert haversine_km(37.7749, -122.4194, 40.7128, -74.0060) == pytest.approx(4129, abs=5)


def test_the_nearest_store_is_the_closest_by_great_circle(network: Network) -> None:
    answer = nearest_answer(network, 37.79, -122.30)
    assert answer["store"] == "oak-1"
    assert answer["same_region"] is True
    assert answer["distance_km"] == pytest.approx(
        haversine_km(37.79, -122.30, 37.80, -122.27), abs=1e-3
    )


def test_unreachable_stores_are_skipped_same_region_first(network: Network) -> None:
    _down(network, "oak-1", "sf-1")
    # la-1 (west, ~550 km) wins over any east store even though the point is in the west.
    answer = nearest_answer(network, 37.79, -122.30)
    assert (answer["store"], answer["same_region"]) == ("la-1", True)


def test_same_region_wins_over_a_nearer_store_of_another_region() -> None:
    index = PointIndex(
        ids=["near-other", "far-same"],
        lat=np.array([0.0, 0.0]),
        lon=np.array([1.0, 5.0]),
        regions=["b", "a"],
        eligible=np.array([True, True]),
    )
    assert index.nearest(0.0, 0.0, region="a").id == "far-same"
    assert index.nearest(0.0, 0.0, region=None).id == "near-other"


def test_when_the_region_has_no_healthy_store_any_region_serves(network: Network) -> None:
    _down(network, "ny-1", "bos-1")
    answer = nearest_answer(network, 40.7, -74.0)
    assert answer["store_region"] == "west"
    assert answer["same_region"] is False


def test_failover_from_a_store_never_answers_that_store(network: Network) -> None:
    _down(network, "sf-1")
    answer = nearest_answer(network, store="sf-1")
    assert answer["store"] == "oak-1"
    assert answer["from_store"] == "sf-1"


def test_no_reachable_store_is_an_error(network: Network) -> None:
    _down(network, "sf-1", "oak-1", "la-1", "ny-1", "bos-1")
    with pytest.raises(NetworkError, match="no reachable store"):
        nearest_answer(network, 37.0, -120.0)


def test_hub_discovery(network: Network) -> None:
    assert hub_answer(network, 42.0, -72.0)["hub"] == "east-hub"
    assert hub_answer(network, 36.0, -119.0)["hub"] == "west-hub"
    with pytest.raises(NetworkError, match=r"point \(21.3, -157.8\) is outside every region"):
        hub_answer(network, 21.3, -157.8)
    with pytest.raises(NetworkError, match="point: latitude 95"):
        hub_answer(network, 95, 0)


def test_vectorised_nearest_agrees_with_brute_force_haversine() -> None:
    rng = np.random.default_rng(4)
    lat, lon = rng.uniform(-60, 60, 500), rng.uniform(-180, 180, 500)
    ids = [f"s{i}" for i in range(500)]
    index = PointIndex(ids=ids, lat=lat, lon=lon, regions=[None] * 500, eligible=np.ones(500, bool))
    for qlat, qlon in zip(rng.uniform(-60, 60, 50), rng.uniform(-180, 180, 50), strict=True):
        expected = ids[int(np.argmin(haversine_km(qlat, qlon, lat, lon)))]
        assert index.nearest(qlat, qlon).id == expected
