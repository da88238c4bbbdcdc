"""Each conflict kind found by the flow's `find-conflicts` step (multistore.channels.sync
.find_conflicts) from what the clients return: counts and failed writes, prices and titles as
read, and the sales each channel made since the last sync."""

from __future__ import annotations

import pandas as pd

from multistore.channels.sync import ChannelReport, Shown, find_conflicts

SKUS = ["A", "B", "C"]
STOCK = pd.DataFrame(
    {
        "on_hand": [10, 4, 6],
        "reserved": 0,
        "price": [5.0, 8.0, 2.5],
        "title": ["Axe", "Bolt", "Cog"],
    },
    index=pd.Index(SKUS, name="sku"),
)
ALLOCATION = pd.DataFrame(
    {"web": [5, 2, 3], "pos": [5, 2, 3], "held": 0, "buffer": 0, "available": [10, 4, 6]},
    index=pd.Index(SKUS, name="sku"),
)


def _shown(price: list[float], title: list[str]) -> Shown:
    levels = pd.DataFrame({"sku": SKUS, "quantity": [1, 1, 1], "price": price, "title": title})
    return Shown(levels, calls=1, rate_limited=0, seconds=0.0)


def _find(shown=None, reports=None, sold=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    clean = _shown([5.0, 8.0, 2.5], ["Axe", "Bolt", "Cog"])
    shown = {"web": clean, "pos": clean, **(shown or {})}
    reports = {"web": ChannelReport("web"), "pos": ChannelReport("pos"), **(reports or {})}
    return find_conflicts(ALLOCATION, STOCK, shown, reports, sold)


def _sold(channels: list[str], skus: list[str], units: list[int], left: list[float]):  # type: ignore[no-untyped-def]
    """What each channel sold since the last sync (history.observe's frame)."""
    return pd.DataFrame(
        {
            "channel": channels,
            "sku": skus,
            "order_id": "since the last sync",
            "quantity": units,
            "left": left,
        }
    )


def _hits(found: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(found["kind"], found["sku"], found["channel"], strict=True))


def test_nothing_differs_nothing_is_found() -> None:
    assert _find().empty


def test_a_failed_write_leaves_a_stock_mismatch() -> None:
    report = ChannelReport("pos", failed={"B": "ebay: revision limit"}, stale={"B": 7.0})
    assert _hits(_find(reports={"pos": report})) == {("stock_mismatch", "B", "pos")}


def test_a_channels_own_price_and_title_are_found_case_and_spacing_aside() -> None:
    web = _shown([5.0, 8.005, 3.5], ["AXE", "Bolt  ", "Gear"])
    assert _hits(_find(shown={"web": web})) == {
        ("price_discrepancy", "C", "web"),
        ("product_info", "C", "web"),
    }


def test_a_channel_selling_past_what_it_was_left_is_overselling() -> None:
    sold = _sold(["web", "pos"], ["A", "B"], [7, 1], [5.0, 2.0])
    assert _hits(_find(sold=sold)) == {("overselling", "A", "web")}


def test_channels_together_selling_more_than_the_store_had_is_overselling() -> None:
    # On hand is now -2 after 6 sales: the store had 4, and the channels together sold 6.
    stock = STOCK.copy()
    stock.loc["B", "on_hand"] = -2
    sold = _sold(["web", "pos"], ["B", "B"], [3, 3], [3.0, 3.0])
    found = find_conflicts(
        ALLOCATION,
        stock,
        {"web": _shown([5.0, 8.0, 2.5], ["Axe", "Bolt", "Cog"])},
        {"web": ChannelReport("web")},
        sold,
    )
    assert ("overselling", "B", "*") in _hits(found)


def test_an_order_line_a_channel_lists_twice_is_a_duplicate_sale() -> None:
    web = _shown([5.0, 8.0, 2.5], ["Axe", "Bolt", "Cog"])
    web.orders = pd.DataFrame({"sku": ["A", "A", "B"], "order_id": "o-1", "quantity": 1})
    assert _hits(_find(shown={"web": web})) == {("duplicate_sale", "A", "web")}
