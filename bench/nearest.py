"""Nearest-healthy-store lookups per second over 10,000 stores (multistore.network.geo).

    python bench/nearest.py [--stores 10000] [--lookups 20000]

Stores are scattered around seven regional centres, 5% of them unreachable; each lookup finds
the point's region (geo.Circles: the nearest covering centre, as hub discovery does), then the
nearest reachable store in it, falling back to any region, as `multistore nearest` does once the
index is loaded. Answers are checked against brute-force haversine on a sample. Target ≥ 10,000
lookups/s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from multistore.network.geo import Circles, PointIndex, haversine_km

CENTRES = {
    "pacific": (37.0, -120.0),
    "mountain": (40.0, -108.0),
    "plains": (39.0, -97.0),
    "lakes": (42.5, -86.0),
    "south": (32.5, -90.0),
    "southeast": (30.5, -82.5),
    "northeast": (41.5, -74.0),
}
RADIUS_KM = 1000 * 1.609  # the seed's 1000-mile radius


def build(stores: int, seed: int = 4) -> tuple[PointIndex, Circles]:
    rng = np.random.default_rng(seed)
    names = list(CENTRES)
    which = rng.integers(0, len(names), stores)
    centre = np.array([CENTRES[names[i]] for i in which])
    lat = centre[:, 0] + rng.normal(0, 3, stores)
    lon = centre[:, 1] + rng.normal(0, 4, stores)
    index = PointIndex(
        ids=[f"store-{i:05d}" for i in range(stores)],
        lat=lat,
        lon=lon,
        regions=[names[i] for i in which],
        eligible=rng.random(stores) >= 0.05,
    )
    circles = Circles(
        names,
        [c[0] for c in CENTRES.values()],
        [c[1] for c in CENTRES.values()],
        [RADIUS_KM] * len(names),
    )
    return index, circles


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args(argv)
    index, circles = build(args.stores)
    rng = np.random.default_rng(11)
    queries = np.column_stack(
        [rng.uniform(28, 46, args.lookups), rng.uniform(-124, -70, args.lookups)]
    )

    def lookup(lat: float, lon: float):  # type: ignore[no-untyped-def]
        return index.nearest(lat, lon, region=circles.covering(lat, lon))

    for lat, lon in queries[:200]:  # correctness on a sample, against brute force
        found = lookup(lat, lon)
        pool = index.eligible & (np.asarray(index.regions) == found.region_id)
        distances = np.where(pool, haversine_km(lat, lon, index.lat, index.lon), np.inf)
        assert found.distance_km <= distances.min() + 1e-6, (lat, lon)
    start = time.perf_counter()
    for lat, lon in queries:
        lookup(float(lat), float(lon))
    elapsed = time.perf_counter() - start
    rate = args.lookups / elapsed
    print(f"{args.stores} stores, {args.lookups} lookups in {elapsed:.2f} s")
    print(f"nearest lookups per second: {rate:.0f}")
    return rate


if __name__ == "__main__":
    main()
