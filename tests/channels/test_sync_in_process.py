"""A store's channel-sync logic in one process, on the sandbox's fakes (sandbox/fakes.py): read
the five channels and on hand → record the sales → allocate → delta writes → conflicts found and
recorded, checked against the sandbox's deterministic catalogue. No server, no HTTP: the
end-to-end test (tests/flows/test_channel_sync.py) keeps only what the real parts prove."""

from __future__ import annotations

import pandas as pd

from multistore.channels.allocation import Channel, Policy, allocate
from multistore.channels.connectors import CLIENTS
from multistore.channels.history import SalesHistory
from multistore.channels.reservations import Reservations
from multistore.channels.review import ConflictBook
from multistore.channels.sync import (
    find_conflicts,
    left_showing,
    read_channel,
    read_stock,
    reading_order,
    sync_channel,
    weigh,
)
from sandbox.channels import VENDORS, catalogue, sell_on
from sandbox.config import SandboxConfig
from sandbox.fakes import FakeWorld
from sandbox.vendors import ebay

STORE = "store-0003"
POLICY = Policy(
    tuple(
        Channel(kind, priority=len(VENDORS) - n, safety_units=CLIENTS[kind].default_safety_units)
        for n, kind in enumerate(VENDORS)
    ),
    buffer_units=1,
)


def sync(world: FakeWorld) -> dict:
    """One store's sync, step by step as flows/channel_sync.py composes them."""
    clients = world.channels(STORE)
    shown = {n: read_channel(clients[n]) for n in reading_order(POLICY.names)}
    stock = read_stock(STORE, world.stockroom(STORE), Reservations())
    history = SalesHistory()
    weighed = weigh(STORE, POLICY, history, shown, None)
    allocation = allocate(stock, POLICY, **weighed.inputs)
    reports = {n: sync_channel(clients[n], allocation[n], shown[n]) for n in POLICY.names}
    for name, report in reports.items():
        history.left(STORE, name, left_showing(name, allocation[name], report))
    found = find_conflicts(allocation, stock, shown, reports, weighed.sold)
    return {"reports": reports, "allocation": allocation, "found": found}


def test_a_store_with_five_channels_syncs_and_finds_every_conflict_kind() -> None:
    world = FakeWorld(SandboxConfig(products_per_store=120))
    cat = catalogue(world.state, STORE)
    yesterday = {kind: dict(cat.levels[kind]) for kind in VENDORS}
    on_hand = pd.DataFrame({"on_hand": pd.Series(cat.on_hand)})

    first = sync(world)

    # Each channel shows its allocation of the store's on hand, and only the products that
    # showed something else were written (one write each).
    expected = allocate(on_hand, POLICY)
    for kind in VENDORS:
        report = first["reports"][kind]
        differ = {s for s in cat.skus if yesterday[kind][s] != expected.at[s, kind]}
        assert report.written == report.changes == len(differ) == cat.writes[kind] > 0
        assert not report.failed and report.rate_limited == 0
        assert cat.levels[kind] == expected[kind].to_dict()
    # The channels together show at most on hand, less the buffer and the safety units held.
    shown = sum(pd.Series(cat.levels[kind]) for kind in VENDORS)
    assert (shown + expected["held"] + expected["buffer"] == pd.Series(cat.on_hand)).all()
    # A second sync with nothing changed writes nothing and finds nothing.
    again = sync(world)
    assert all(r.changes == r.written == 0 for r in again["reports"].values())
    assert again["found"].empty

    # What the channels say after a sync, found by the next one.
    price_sku, title_sku, oversold_sku = "P-000010", "P-000011", "P-000012"
    stuck_sku = next(s for s in cat.skus if cat.levels["ebay"][s] >= 1)
    cat.prices.setdefault("square", {})[price_sku] = 999.99
    cat.titles.setdefault("ebay", {})[title_sku] = "Something else entirely"
    left = cat.levels["shopify"][oversold_sku]
    at = world.state.wall()
    assert sell_on(cat, "shopify", oversold_sku, left + 2, at, past_zero=True)["sold"]
    while ebay.revise(world.state, STORE, cat, stuck_sku, 0):
        pass  # eBay takes no more revisions of the listing today; it shows 0
    twice_sku = next(s for s in cat.skus if cat.levels["shopify"][s] >= 2)
    square_twice = next(s for s in cat.skus if cat.levels["square"][s] >= 2)
    for _ in range(2):  # Shopify lists order o-77 twice, Square order sq-9
        assert sell_on(cat, "shopify", twice_sku, 1, world.state.wall())["sold"]
        cat.sales[-1]["order_id"] = "o-77"
        assert sell_on(cat, "square", square_twice, 1, world.state.wall())["sold"]
        cat.sales[-1]["order_id"] = "sq-9"

    third = sync(world)

    found = third["found"]
    assert set(found["kind"]) == {
        "stock_mismatch",
        "price_discrepancy",
        "product_info",
        "overselling",
        "duplicate_sale",
    }
    book = ConflictBook()
    book.record(STORE, found)
    assert {
        ("price_discrepancy", price_sku, "square"),
        ("product_info", title_sku, "ebay"),
        ("overselling", oversold_sku, "shopify"),
        ("stock_mismatch", stuck_sku, "ebay"),
        ("duplicate_sale", twice_sku, "shopify"),
        ("duplicate_sale", square_twice, "square"),
    } <= {(c.kind, c.sku, c.channel) for c in book.list(STORE, status=None)}
    # The listing at its revision limit is the one write that failed, and it still shows 0.
    assert third["reports"]["ebay"].failed.keys() == {stuck_sku}
    assert cat.levels["ebay"][stuck_sku] == 0
