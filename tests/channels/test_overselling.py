"""Overselling: two channels sell the same products at once while syncs run; every sale is
reserved through multistore first (as the order systems do over POST /channels/…/reservations),
and the channels together never sell more than on hand."""

from __future__ import annotations

import random
import threading

import pytest

from multistore.channels.allocation import Channel, Policy
from multistore.channels.connectors import CLIENTS, ChannelConfig, StockroomClient
from multistore.channels.reservations import ReservationError, Reservations
from multistore.channels.sync import sync_store
from sandbox import credentials

STORE = "store-0009"
POLICY = Policy((Channel("shopify"), Channel("square")))


def test_two_channels_selling_during_syncs_never_sell_more_than_on_hand(sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.admin.configure(products_per_store=8)
    config = ChannelConfig(sandbox.url, credentials.CHANNEL_TOKEN, STORE)
    book = Reservations()
    stockroom = StockroomClient(config)
    clients = {n: CLIENTS[n](config) for n in POLICY.names}
    sync_store(STORE, POLICY, stockroom, clients, book)
    on_hand = dict(sandbox.admin.channels_truth(STORE)["on_hand"])
    skus = list(on_hand)
    sold = {n: 0 for n in POLICY.names}
    stop = threading.Event()

    def sell(channel: str, seed: int) -> None:
        rng = random.Random(seed)
        for n in range(400):
            sku = rng.choice(skus)
            try:  # the order system reserves before it accepts the order...
                hold = book.reserve(STORE, sku, 1, f"{channel}-{n}")
            except ReservationError:
                continue
            book.confirm(hold.id)
            sold[channel] += 1

    def keep_syncing() -> None:
        while not stop.is_set():
            sync_store(
                STORE,
                POLICY,
                stockroom,
                {n: CLIENTS[n](config) for n in POLICY.names},
                Reservations(),
            )

    syncer = threading.Thread(target=keep_syncing)
    sellers = [threading.Thread(target=sell, args=(n, i)) for i, n in enumerate(POLICY.names)]
    syncer.start()
    for t in sellers:
        t.start()
    for t in sellers:
        t.join()
    stop.set()
    syncer.join()

    stock = book.stock(STORE)
    # Every unit sold is reserved against on hand, never beyond it.
    assert 0 < sum(sold.values()) == int(stock["reserved"].sum()) <= sum(on_hand.values())
    assert (stock["reserved"] <= stock["on_hand"]).all()
    # And what the channels are given leaves the reserved units out: after a last sync the
    # channels together show at most on hand − reserved for every product.
    sync_store(STORE, POLICY, stockroom, clients, book)
    levels = sandbox.admin.channels_truth(STORE)["levels"]
    for sku in skus:
        shown = levels["shopify"][sku] + levels["square"][sku]
        assert shown <= stock.at[sku, "on_hand"] - stock.at[sku, "reserved"]


def test_sales_on_two_channels_between_the_syncs_read_and_write_are_never_written_over(
    sandbox,
) -> None:  # type: ignore[no-untyped-def]
    """The sandbox sells on Shopify and Square the moment Shopify's first write arrives: after
    the sync read both channels and on hand, before either write. Shopify's compare-and-set
    and Square's `occurred_at` keep both sales, so when every channel then sells out what it
    shows, no product is sold beyond what the store has (on hand never below 0)."""
    sandbox.admin.configure(products_per_store=12)
    config = ChannelConfig(sandbox.url, credentials.CHANNEL_TOKEN, STORE)
    clients = {n: CLIENTS[n](config) for n in POLICY.names}
    before = sandbox.admin.channels_truth(STORE)
    # Products both channels show at least 2 of, and the store has more than 2 of.
    skus = [
        s
        for s in before["on_hand"]
        if min(before["levels"]["shopify"][s], before["levels"]["square"][s]) >= 2
        and before["on_hand"][s] >= 4
    ][:3]
    assert len(skus) == 3
    for sku in skus:
        for channel in POLICY.names:
            sandbox.admin.sell_on_next_write(STORE, channel, sku, 1, on="shopify")

    reports = sync_store(STORE, POLICY, StockroomClient(config), clients, Reservations())

    after = sandbox.admin.channels_truth(STORE)
    assert {(s["channel"], s["sku"]) for s in after["sales"]} == {
        (c, s) for c in POLICY.names for s in skus
    }
    assert all(not r.failed for r in reports.values())
    for sku in skus:
        # Each channel got its allocation (from on hand as read) less the sale made meanwhile.
        on_hand_read = before["on_hand"][sku]
        assert after["on_hand"][sku] == on_hand_read - 2
        shown = after["levels"]["shopify"][sku] + after["levels"]["square"][sku]
        assert shown == on_hand_read - 2 == after["on_hand"][sku]
    # Sell out every channel: the store never goes below zero.
    for channel in POLICY.names:
        for sku, quantity in after["levels"][channel].items():
            if quantity > 0:
                assert sandbox.admin.sell(STORE, channel, sku, quantity)["sold"]
    assert min(sandbox.admin.channels_truth(STORE)["on_hand"].values()) >= 0


@pytest.mark.parametrize("absolute", ["ebay", "amazon", "custom"])
def test_a_sale_an_absolute_write_overwrites_is_covered_by_the_channels_safety_units(
    sandbox, absolute: str
) -> None:  # type: ignore[no-untyped-def]
    """eBay, Amazon and a custom REST channel take only absolute quantities: a sale made while
    the write is on its way is written over. The sandbox sells that channel's default safety
    units (and one on Shopify) the moment its write arrives, after the sync read on hand; the
    units the allocation held back from it cover the sale, so when every channel then sells out
    what it shows, no product is sold beyond what the store has."""
    sandbox.admin.configure(products_per_store=12)
    config = ChannelConfig(sandbox.url, credentials.CHANNEL_TOKEN, STORE)
    kind = CLIENTS[absolute]
    safety = kind.default_safety_units
    assert safety >= 1
    policy = Policy((Channel("shopify"), Channel(absolute, safety_units=safety)))
    clients = {
        "shopify": CLIENTS["shopify"](config),
        absolute: kind(config, sleep=lambda _seconds: None),
    }
    before = sandbox.admin.channels_truth(STORE)
    # Products the absolute channel shows enough of to sell its safety units, and Shopify 1.
    skus = [
        s
        for s in before["on_hand"]
        if before["levels"][absolute][s] >= safety
        and before["levels"]["shopify"][s] >= 1
        and before["on_hand"][s] >= 2 * safety + 4
    ][:3]
    assert len(skus) == 3
    for sku in skus:
        sandbox.admin.sell_on_next_write(STORE, absolute, sku, safety, on=absolute)
        sandbox.admin.sell_on_next_write(STORE, "shopify", sku, 1, on=absolute)

    reports = sync_store(STORE, policy, StockroomClient(config), clients, Reservations())

    after = sandbox.admin.channels_truth(STORE)
    assert all(not r.failed for r in reports.values())
    assert sum(s["quantity"] for s in after["sales"] if s["channel"] == absolute) == 3 * safety
    for sku in skus:
        assert after["on_hand"][sku] == before["on_hand"][sku] - safety - 1
        shown = after["levels"]["shopify"][sku] + after["levels"][absolute][sku]
        assert shown <= after["on_hand"][sku]
    # Sell out every channel: the store never goes below zero.
    for channel in policy.names:
        for sku, quantity in after["levels"][channel].items():
            if quantity > 0:
                assert sandbox.admin.sell(STORE, channel, sku, quantity)["sold"]
    assert min(sandbox.admin.channels_truth(STORE)["on_hand"].values()) >= 0
