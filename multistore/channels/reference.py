"""The allocation rules one product at a time, in plain Python.

Not used by the pipeline: it is the oracle the vectorised engine (`allocation.py`) is tested
against (both must give the same units for every product) and the baseline `bench/allocation.py`
measures it against. Written for reading, the way the rules are stated in `allocation.py`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from multistore.channels.allocation import Policy, Strategy


def allocate_loop(
    stock: pd.DataFrame,
    policy: Policy,
    *,
    sales: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
) -> pd.DataFrame:
    names = policy.names
    tie = sorted(range(len(names)), key=lambda j: (-policy.channels[j].priority, j))
    rank = {j: r for r, j in enumerate(tie)}
    rows = []
    for sku, product in stock.iterrows():
        rows.append(_one(sku, product, policy, sales, forecast, tie, rank))
    out = pd.DataFrame(rows, index=stock.index, columns=[*names, "held", "buffer", "available"])
    return out.astype("int64")


def _count(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(number) else math.floor(number)


def _history(frame: pd.DataFrame | None, sku: Any, name: str) -> float:
    if frame is None or sku not in frame.index or name not in frame.columns:
        return 0.0
    value = pd.to_numeric(pd.Series([frame.at[sku, name]]), errors="coerce").iloc[0]
    if value is None or math.isnan(value) or math.isinf(value) or value < 0:
        return 0.0
    return float(value)


def _one(sku, product, policy: Policy, sales, forecast, tie, rank) -> list[int]:
    on_hand = _count(product["on_hand"])
    reserved = _count(product["reserved"]) if "reserved" in product.index else 0
    available = max(on_hand - reserved, 0)
    pct = math.ceil(available * (policy.buffer_percent / 100.0) - 1e-9)
    buffer = min(max(pct, policy.buffer_units), available)
    total = available - buffer

    weights, floors, caps = [], [], []
    for c in policy.channels:
        if policy.strategy is Strategy.EQUAL:
            w = 1.0
        elif policy.strategy is Strategy.PRIORITY:
            w = float(c.priority)
        elif policy.strategy is Strategy.CUSTOM:
            w = c.weight
        elif policy.strategy is Strategy.PERFORMANCE:
            w = _history(sales, sku, c.name) + policy.smoothing
        else:
            w = _history(forecast, sku, c.name)
        weights.append(w if c.enabled else 0.0)
        floors.append(c.min_units)
        caps.append(math.inf if c.max_units is None else c.max_units)
    for rule in policy.rules:
        if rule.sku_prefix is not None and not str(sku).startswith(rule.sku_prefix):
            continue
        if any(
            product[col] not in (v if isinstance(v, (list, tuple, set)) else [v])
            for col, v in rule.where.items()
        ):
            continue
        j = policy.names.index(rule.channel)
        if rule.weight is not None:
            weights[j] = rule.weight
        if rule.min_units is not None:
            floors[j] = rule.min_units
        if rule.max_units is not None:
            caps[j] = rule.max_units
        if rule.exclude:
            weights[j], caps[j] = 0.0, 0
    for j, c in enumerate(policy.channels):
        if not c.enabled:
            caps[j] = 0
        floors[j] = min(floors[j], caps[j])

    m = len(weights)
    alloc = [0] * m
    remaining = total
    for j in tie:
        give = min(floors[j], remaining)
        alloc[j] += give
        remaining -= give
    for _ in range(m + 1):
        if remaining == 0:
            break
        open_ = [alloc[j] < caps[j] for j in range(m)]
        w = [weights[j] if open_[j] and weights[j] > 0 else 0.0 for j in range(m)]
        if not any(x > 0 for x in w):
            w = [1.0 if open_[j] else 0.0 for j in range(m)]
        wsum = 0.0
        for x in w:
            wsum = wsum + x
        if wsum <= 0:
            break
        quota = [remaining * x / wsum for x in w]
        share = [math.floor(q) for q in quota]
        left = remaining - sum(share)
        order = sorted(
            (j for j in range(m) if w[j] > 0), key=lambda j: (-(quota[j] - share[j]), rank[j])
        )
        for j in order[:left]:
            share[j] += 1
        for j in range(m):
            share[j] = min(share[j], caps[j] - alloc[j])
            alloc[j] += share[j]
        remaining -= sum(share)
        if not any(alloc[j] < caps[j] for j in range(m)):
            break
    for j, c in enumerate(policy.channels):
        kept = min(c.safety_units, alloc[j])
        alloc[j] -= kept
        remaining += kept
    return [*alloc, remaining, buffer, available]


def detect_loop(
    allocation: pd.DataFrame,
    listings: pd.DataFrame,
    *,
    source: pd.DataFrame | None = None,
    sales: pd.DataFrame | None = None,
) -> list[tuple[str, Any, str]]:
    """`conflicts.detect`'s rules one row at a time: the (kind, sku, channel) it finds."""
    alloc = allocation.to_dict("index")
    found = []
    for row in listings.to_dict("records"):
        own = alloc.get(row["sku"], {}).get(row["channel"])
        quantity = row["quantity"]
        if own is not None and quantity == quantity and quantity != own:
            found.append(("stock_mismatch", row["sku"], row["channel"]))
        if source is None or row["sku"] not in source.index:
            continue
        ours = source.loc[row["sku"]]
        price = row.get("price")
        if price is not None and abs(price - ours["price"]) > 0.01 + 1e-9:
            found.append(("price_discrepancy", row["sku"], row["channel"]))
        title = row.get("title")
        if isinstance(title, str) and " ".join(title.casefold().split()) != " ".join(
            str(ours["title"]).casefold().split()
        ):
            found.append(("product_info", row["sku"], row["channel"]))
    if sales is not None:
        seen: dict[tuple, int] = {}
        sold: dict[tuple, float] = {}
        total: dict[Any, float] = {}
        for row in sales.to_dict("records"):
            key = (row["channel"], row["order_id"], row["sku"])
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 1:
                pair = (row["channel"], row["sku"])
                sold[pair] = sold.get(pair, 0) + row["quantity"]
                total[row["sku"]] = total.get(row["sku"], 0) + row["quantity"]
        for (channel, sku), units in sold.items():
            own = alloc.get(sku, {}).get(channel)
            if own is not None and units > own:
                found.append(("overselling", sku, channel))
        for sku, units in total.items():
            if source is not None and sku in source.index and units > source.at[sku, "on_hand"]:
                found.append(("overselling", sku, "*"))
        for (channel, _order, sku), count in seen.items():
            if count > 1:
                found.append(("duplicate_sale", sku, channel))
    return found
