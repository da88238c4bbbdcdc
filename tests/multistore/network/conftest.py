"""A small network: two regions (west, east) with hubs and a handful of store nodes."""

from __future__ import annotations

import pytest

from multistore.network.config import parse
from multistore.network.registry import Network
from multistore.registry import Registry

WEST = {"id": "west", "lat": 37.0, "lon": -120.0, "radius_km": 800}
EAST = {"id": "east", "lat": 40.7, "lon": -74.0, "radius_km": 500}
STORES = {
    # id: (number, lat, lon)
    "sf-1": (1, 37.77, -122.42),
    "oak-1": (2, 37.80, -122.27),
    "la-1": (3, 34.05, -118.24),
    "ny-1": (4, 40.71, -74.00),
    "bos-1": (5, 42.36, -71.06),
}


@pytest.fixture
def network(registry_url: str) -> Network:
    registry = Registry(registry_url)
    net = Network(registry_url)
    net.add_region(parse("regions", WEST, where="west"))
    net.add_region(parse("regions", EAST, where="east"))
    net.add_hub(
        parse(
            "hubs",
            {"id": "west-hub", "region": "west", "lat": 37.3, "lon": -121.9},
            where="west-hub",
        )
    )
    net.add_hub(
        parse(
            "hubs",
            {"id": "east-hub", "region": "east", "lat": 40.0, "lon": -75.0},
            where="east-hub",
        )
    )
    for store_id, (number, lat, lon) in STORES.items():
        registry.add(store_id)
        net.set_node(
            parse("nodes", {"store": store_id, "number": number, "lat": lat, "lon": lon}, where="")
        )
    return net
