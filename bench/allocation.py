"""Allocation and conflict detection for a whole catalogue: the vectorised engine
(multistore.channels) against a per-product Python loop of the same rules, on the same data.

    python bench/allocation.py [--products 10000] [--loop-sample 2000] [--repeat 3]

Five channels, the performance strategy with a buffer, caps, floors and a custom rule, then every
conflict kind over the channels' listings and sales. The loop runs on a sample and is scaled to
the whole catalogue. Targets: ≤ 0.5 s for 10,000 products, ≥ 20× the loop.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from multistore.channels.allocation import Channel, Policy, Rule, Strategy, allocate
from multistore.channels.conflicts import detect
from multistore.channels.reference import allocate_loop, detect_loop

CHANNELS = ("shopify", "square", "ebay", "amazon", "custom")


def catalogue(products: int, seed: int = 3) -> dict:
    """Seeded stock, history, listings (with drift) and sales (with repeats) for `products`."""
    rng = np.random.default_rng(seed)
    skus = pd.Index([f"SKU-{i:06d}" for i in range(products)])
    stock = pd.DataFrame(
        {
            "on_hand": rng.integers(-2, 300, products),
            "reserved": rng.integers(0, 8, products),
            "category": rng.choice(["parts", "accessories", "tyres"], products),
            "price": np.round(rng.uniform(1, 500, products), 2),
            "title": [f"Part {i}" for i in range(products)],
        },
        index=skus,
    )
    sales = pd.DataFrame(rng.integers(0, 40, (products, 5)), index=skus, columns=list(CHANNELS))
    policy = Policy(
        tuple(
            Channel(name, priority=p, min_units=1, max_units=m)
            for name, p, m in zip(
                CHANNELS, (3, 2, 2, 1, 1), (None, None, 50, None, 25), strict=True
            )
        ),
        Strategy.PERFORMANCE,
        buffer_percent=5,
        rules=(Rule("amazon", where={"category": "tyres"}, exclude=True),),
    )
    listings = pd.DataFrame(
        {
            "channel": np.repeat(CHANNELS, products),
            "sku": np.tile(skus, 5),
            "quantity": np.nan,
            "price": np.tile(stock["price"].to_numpy(), 5)
            + rng.choice([0, 0, 0, 0.5], 5 * products),
            "title": np.tile(stock["title"].to_numpy(), 5),
        }
    )
    # The channels mostly show what they were given; 3 % have drifted.
    given = allocate(stock, policy, sales=sales)[list(CHANNELS)].to_numpy().T.ravel()
    drift = rng.random(5 * products) < 0.03
    listings["quantity"] = np.where(drift, given + rng.integers(-3, 4, 5 * products), given)
    n_sales = products
    orders = pd.DataFrame(
        {
            "channel": rng.choice(CHANNELS, n_sales),
            "sku": skus[rng.integers(0, products, n_sales)],
            "order_id": [f"o{i}" for i in rng.integers(0, int(n_sales * 0.98), n_sales)],
            "quantity": rng.integers(1, 4, n_sales),
        }
    )
    return {
        "stock": stock,
        "policy": policy,
        "sales": sales,
        "listings": listings,
        "orders": orders,
    }


def vectorised(data: dict) -> pd.DataFrame:
    alloc = allocate(data["stock"], data["policy"], sales=data["sales"])
    return detect(alloc, data["listings"], source=data["stock"], sales=data["orders"])


def loop(data: dict) -> list:
    alloc = allocate_loop(data["stock"], data["policy"], sales=data["sales"])
    return detect_loop(alloc, data["listings"], source=data["stock"], sales=data["orders"])


def subset(data: dict, products: int) -> dict:
    skus = data["stock"].index[:products]
    return {
        **data,
        "stock": data["stock"].loc[skus],
        "sales": data["sales"].loc[skus],
        "listings": data["listings"][data["listings"]["sku"].isin(skus)],
        "orders": data["orders"][data["orders"]["sku"].isin(skus)],
    }


def best(fn, data, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--loop-sample", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = catalogue(args.products)
    found = vectorised(data)
    seconds = best(vectorised, data, args.repeat)
    sample = min(args.loop_sample, args.products)
    small = subset(data, sample)
    # The sample's own vectorised time is not used: the loop is scaled per product.
    loop_seconds = best(loop, small, 1) * args.products / sample
    print(f"products: {args.products}, channels: {len(CHANNELS)}, conflicts found: {len(found)}")
    print(f"loop seconds (scaled from {sample} products): {loop_seconds:.3f}")
    print(f"allocation seconds: {seconds:.3f}")
    print(f"allocation ratio vs loop: {loop_seconds / seconds:.1f}x")


if __name__ == "__main__":
    main()
