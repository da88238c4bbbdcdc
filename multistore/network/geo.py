"""Great-circle geometry, vectorised with numpy: distances, and the nearest point of many.

Points live on the unit sphere as (x, y, z) vectors. For two unit vectors the great-circle angle
is a decreasing function of their dot product, so "nearest by great-circle distance" is "largest
dot product": one (n × 3) · 3 product per lookup instead of n haversines. Distances reported
are haversine kilometres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def check_lat(value: float) -> float:
    """A latitude as a float; ValueError when it is not a number in -90..90."""
    return _check(value, "latitude", 90.0)


def check_lon(value: float) -> float:
    """A longitude as a float; ValueError when it is not a number in -180..180."""
    return _check(value, "longitude", 180.0)


def _check(value: float, name: str, bound: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not np.isfinite(number) or not -bound <= number <= bound:
        raise ValueError(f"{name} {number:g} is out of range (-{bound:g}..{bound:g})")
    return number


def check_coordinates(lat: float, lon: float, *, what: str) -> tuple[float, float]:
    """(lat, lon) as floats; ValueError naming `what` when out of range or not numbers."""
    try:
        return check_lat(lat), check_lon(lon)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def haversine_km(lat1, lon1, lat2, lon2):  # type: ignore[no-untyped-def]
    """Great-circle distance in km; scalars or numpy arrays (broadcast)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat, lon) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(n, 3) unit vectors of points given in degrees."""
    phi, lmb = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi)], axis=-1)


def unit_vector(lat: float, lon: float) -> np.ndarray:
    """One point's unit vector (plain math: numpy's per-call overhead dominates for one)."""
    phi, lmb = math.radians(lat), math.radians(lon)
    return np.array([math.cos(phi) * math.cos(lmb), math.cos(phi) * math.sin(lmb), math.sin(phi)])


def haversine_one(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """`haversine_km` for one pair of points, in plain math."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


class Circles:
    """Circles on the sphere (regions: centre and radius); which covers a point, nearest centre
    first. A point is inside when its angle to the centre is at most radius / R, i.e. when the
    dot product of their unit vectors is at least cos(radius / R)."""

    def __init__(
        self,
        ids: Sequence[str],
        lat: Sequence[float],
        lon: Sequence[float],
        radius_km: Sequence[float],
    ) -> None:
        self.ids = list(ids)
        self._vectors = unit_vectors(np.asarray(lat, float), np.asarray(lon, float)).reshape(-1, 3)
        self._cos_radius = np.cos(
            np.minimum(np.asarray(radius_km, float) / EARTH_RADIUS_KM, math.pi)
        )

    def covering(self, lat: float, lon: float) -> str | None:
        """The id of the covering circle whose centre is nearest, None outside all."""
        if not self.ids:
            return None
        scores = self._vectors @ unit_vector(lat, lon)
        scores = np.where(scores >= self._cos_radius - 1e-12, scores, -np.inf)
        best = int(np.argmax(scores))
        return self.ids[best] if np.isfinite(scores[best]) else None


@dataclass(frozen=True)
class Nearest:
    id: str
    distance_km: float
    region_id: str | None
    same_region: bool


@dataclass
class PointIndex:
    """Named points with a region each and an "eligible" mask (e.g. reachable stores).

    Each region keeps the unit vectors of its eligible points in one contiguous array, so a
    lookup is one small matrix-vector product and an argmax, with no masking per query.
    """

    ids: Sequence[str]
    lat: np.ndarray
    lon: np.ndarray
    regions: Sequence[str | None]
    eligible: np.ndarray
    _groups: dict[str | None, tuple[np.ndarray, np.ndarray]] = field(init=False, repr=False)
    _everyone: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)
    _position: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lat = np.asarray(self.lat, dtype=float)
        self.lon = np.asarray(self.lon, dtype=float)
        self.eligible = np.asarray(self.eligible, dtype=bool)
        vectors = unit_vectors(self.lat, self.lon).reshape(-1, 3)
        region_array = np.asarray(list(self.regions), dtype=object)

        def group(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            positions = np.flatnonzero(mask)
            return positions, np.ascontiguousarray(vectors[positions])

        self._everyone = group(self.eligible)
        self._groups = {
            region: group(self.eligible & (region_array == region)) for region in set(self.regions)
        }
        self._position = {point_id: i for i, point_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(
        self, lat: float, lon: float, *, region: str | None = None, exclude: str | None = None
    ) -> Nearest | None:
        """The nearest eligible point, in `region` first, then anywhere; None if none is."""
        query = unit_vector(lat, lon)
        skip = self._position.get(exclude) if exclude is not None else None
        searches = [(self._groups.get(region), True)] if region is not None else []
        searches.append((self._everyone, False))
        for found, same in searches:
            if found is None:
                continue
            best = self._best(found, query, skip)
            if best is not None:
                distance = haversine_one(lat, lon, float(self.lat[best]), float(self.lon[best]))
                return Nearest(self.ids[best], distance, self.regions[best], same)
        return None

    @staticmethod
    def _best(
        found: tuple[np.ndarray, np.ndarray], query: np.ndarray, skip: int | None
    ) -> int | None:
        positions, vectors = found
        if not len(positions):
            return None
        scores = vectors @ query
        best = int(np.argmax(scores))
        if skip is not None and positions[best] == skip:
            if len(positions) == 1:
                return None
            scores[best] = -np.inf
            best = int(np.argmax(scores))
        return int(positions[best])
