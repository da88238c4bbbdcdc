"""Conflict detection (every kind) and resolution (every strategy)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from multistore.channels.allocation import Channel, Policy, allocate
from multistore.channels.conflicts import (
    ConflictPolicy,
    ConflictPolicyError,
    Kind,
    Resolution,
    detect,
    reliability,
    resolve,
)
from multistore.channels.reference import detect_loop


@pytest.fixture
def allocation() -> pd.DataFrame:
    stock = pd.DataFrame({"on_hand": [10, 4, 6]}, index=["A", "B", "C"])
    return allocate(stock, Policy((Channel("shopify", priority=2), Channel("ebay"))))


def _kinds(found: pd.DataFrame) -> list[tuple]:
    return sorted(found[["kind", "sku", "channel"]].itertuples(index=False, name=None))


def test_stock_is_compared_with_the_channels_own_allocation(allocation: pd.DataFrame) -> None:
    # A: shopify 5 / ebay 5; B: 2 / 2; C: 3 / 3.
    listings = pd.DataFrame(
        {
            "channel": ["shopify", "ebay", "shopify", "ebay", "ebay"],
            "sku": ["A", "A", "B", "B", "C"],
            "quantity": [5, 10, 0, np.nan, -1],
        }
    )
    found = detect(allocation, listings)
    assert _kinds(found) == [
        ("stock_mismatch", "A", "ebay"),  # 10 is the sum, not ebay's own 5: a mismatch
        ("stock_mismatch", "B", "shopify"),  # 0 is a count, not a missing one
        ("stock_mismatch", "C", "ebay"),
    ]
    negative = found[found["sku"] == "C"].iloc[0]
    assert negative["detail"] == "negative quantity from the channel"
    assert found.loc[found["sku"] == "B", "observed"].item() == 0.0


def test_price_title_overselling_and_duplicates(allocation: pd.DataFrame) -> None:
    source = pd.DataFrame(
        {"on_hand": [10, 4, 6], "price": [9.99, 5.0, 1.0], "title": ["Oil Filter", "Cap", "X"]},
        index=["A", "B", "C"],
    )
    listings = pd.DataFrame(
        {
            "channel": ["shopify", "ebay", "ebay"],
            "sku": ["A", "A", "B"],
            "quantity": [5, 5, 2],
            "price": [9.99, 10.49, 5.005],
            "title": ["oil  filter", "Oil Filter (2)", "Cap"],
        }
    )
    sales = pd.DataFrame(
        {
            "channel": ["shopify", "ebay", "ebay", "shopify", "shopify", "ebay"],
            "sku": ["B", "B", "B", "C", "C", "C"],
            "order_id": ["o1", "o2", "o3", "o4", "o4", "o5"],
            "quantity": [3, 1, 1, 2, 2, 1],
        }
    )
    found = detect(allocation, listings, source=source, sales=sales)
    assert _kinds(found) == [
        ("duplicate_sale", "C", "shopify"),
        ("overselling", "B", "*"),  # 5 sold in all, 4 on hand
        ("overselling", "B", "shopify"),  # 3 sold, 2 allocated
        ("price_discrepancy", "A", "ebay"),  # 10.49 vs 9.99; B's half cent is within tolerance
        ("product_info", "A", "ebay"),  # "oil  filter" on shopify is the same title
    ]
    # The duplicate order line counts once towards overselling: C sold 3 of 6, no conflict.
    assert not ((found["kind"] == "overselling") & (found["sku"] == "C")).any()


def test_nothing_to_report_is_an_empty_frame_with_the_columns(allocation: pd.DataFrame) -> None:
    listings = pd.DataFrame({"channel": ["shopify"], "sku": ["A"], "quantity": [5]})
    found = detect(allocation, listings)
    assert found.empty and list(found.columns) == [
        "kind",
        "sku",
        "channel",
        "expected",
        "observed",
        "detail",
    ]


CANDIDATES = pd.DataFrame(
    {
        "conflict": [1, 1, 1, 2, 2],
        "source": ["inventory", "shopify", "ebay", "inventory", "ebay"],
        "value": [10.0, 7.0, 4.0, 3.0, 8.0],
        "updated_at": [
            datetime(2026, 1, 1, 10, tzinfo=UTC),
            datetime(2026, 1, 1, 12, tzinfo=UTC),
            datetime(2026, 1, 1, 11, tzinfo=UTC),
            datetime(2026, 1, 1, 9, tzinfo=UTC),
            datetime(2026, 1, 1, 8, tzinfo=UTC),
        ],
    }
)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Resolution.LAST_WRITE_WINS, [7.0, 3.0]),
        (Resolution.CONSERVATIVE, [4.0, 3.0]),
        (Resolution.MEAN, [7.0, 5.0]),
        (Resolution.MEDIAN, [7.0, 5.0]),
    ],
)
def test_simple_strategies(strategy: Resolution, expected: list[float]) -> None:
    assert resolve(CANDIDATES, strategy).tolist() == expected


def test_source_priority_takes_the_first_source_present() -> None:
    got = resolve(CANDIDATES, Resolution.SOURCE_PRIORITY, sources=("ebay", "inventory"))
    assert got.tolist() == [4.0, 8.0]


def test_weighted_uses_each_sources_recent_reliability() -> None:
    history = pd.DataFrame(
        {
            "source": ["inventory"] * 8 + ["ebay"] * 8,
            "clean": [True] * 8 + [True, False, False, False, False, False, False, False],
        }
    )
    weights = reliability(history)
    assert weights["inventory"] == pytest.approx(0.9) and weights["ebay"] == pytest.approx(0.2)
    got = resolve(CANDIDATES, Resolution.WEIGHTED, weights=weights)
    # conflict 1: (0.9·10 + 0.5·7 + 0.2·4) / 1.6 = 8.31 → 8 units; 2: (2.7 + 1.6) / 1.1 → 3.
    assert got.tolist() == [8.0, 3.0]


def test_manual_decides_nothing() -> None:
    assert resolve(CANDIDATES, Resolution.MANUAL).isna().all()


def test_conflict_policy_from_config() -> None:
    policy = ConflictPolicy.from_mapping({"rules": {"price_discrepancy": "median"}})
    assert policy.strategy(Kind.PRICE_DISCREPANCY) is Resolution.MEDIAN
    assert policy.strategy(Kind.OVERSELLING) is Resolution.MANUAL
    with pytest.raises(ConflictPolicyError, match="'smart'"):
        ConflictPolicy.from_mapping({"rules": {"stock_mismatch": "smart"}})


def test_detect_finds_what_the_per_row_reference_finds() -> None:
    rng = np.random.default_rng(5)
    n, names = 300, ["shopify", "square", "ebay"]
    skus = [f"S{i}" for i in range(n)]
    stock = pd.DataFrame(
        {
            "on_hand": rng.integers(0, 20, n),
            "price": rng.choice([1.0, 2.5], n),
            "title": rng.choice(["Cap", "Oil"], n),
        },
        index=skus,
    )
    alloc = allocate(stock, Policy(tuple(Channel(c) for c in names)))
    listings = pd.DataFrame(
        {
            "channel": np.repeat(names, n),
            "sku": np.tile(skus, 3),
            "quantity": rng.choice([0.0, 1.0, 3.0, np.nan], 3 * n),
            "price": rng.choice([1.0, 2.5, 2.52], 3 * n),
            "title": rng.choice(["cap", "Oil", "Cap "], 3 * n),
        }
    )
    sales = pd.DataFrame(
        {
            "channel": rng.choice(names, n),
            "sku": rng.choice(skus[:40], n),
            "order_id": rng.integers(0, 250, n).astype(str),
            "quantity": rng.integers(1, 4, n),
        }
    )
    found = detect(alloc, listings, source=stock, sales=sales)
    assert set(found["kind"]) == {k.value for k in Kind}
    assert _kinds(found) == sorted(detect_loop(alloc, listings, source=stock, sales=sales))
