"""Answers about a point or a store: which hub serves it, which healthy store is nearest.

Shared by `multistore nearest` and the HTTP service, so both give the same answer.
"""

from __future__ import annotations

from typing import Any

from multistore.network.geo import PointIndex, check_coordinates
from multistore.network.registry import Network, NetworkError


def hub_answer(network: Network, lat: float, lon: float) -> dict[str, Any]:
    """Hub discovery: the region covering the point and its hub; NetworkError outside all."""
    lat, lon = _point(lat, lon)
    found = network.hub_for(lat, lon)
    if found is None:
        raise NetworkError(f"point ({lat:g}, {lon:g}) is outside every region")
    region, hub = found
    return {
        "lat": lat,
        "lon": lon,
        "region": region.id,
        "hub": None if hub is None else hub.id,
        "hub_name": None if hub is None else hub.name,
        "hub_api_url": None if hub is None else hub.api_url,
    }


def nearest_answer(
    network: Network,
    lat: float | None = None,
    lon: float | None = None,
    *,
    store: str | None = None,
    index: PointIndex | None = None,
) -> dict[str, Any]:
    """The nearest reachable store to a point, or to `store` (failover: never itself): in the
    point's region first, then any region."""
    if store is not None:
        node = network.node(store)
        lat, lon, region = node.lat, node.lon, node.region_id
    else:
        lat, lon = _point(lat, lon)
        covering = network.region_for(lat, lon)
        region = None if covering is None else covering.id
    index = index if index is not None else network.index()
    found = index.nearest(lat, lon, region=region, exclude=store)
    if found is None:
        raise NetworkError("no reachable store in the network")
    return {
        "lat": lat,
        "lon": lon,
        "from_store": store,
        "region": region,
        "store": found.id,
        "store_region": found.region_id,
        "same_region": found.same_region,
        "distance_km": round(found.distance_km, 3),
    }


def _point(lat: float | None, lon: float | None) -> tuple[float, float]:
    try:
        return check_coordinates(lat, lon, what="point")  # type: ignore[arg-type]
    except ValueError as exc:
        raise NetworkError(str(exc)) from None
