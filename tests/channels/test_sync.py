"""A store's channel sync over real HTTP to the sandbox: delta writes in each vendor's batch
shape, a second sync writes nothing, a partial failure names the SKU and keeps the rest,
channel sales never take the channels past on hand."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from multistore.channels.allocation import Channel, Policy
from multistore.channels.connectors import (
    CLIENTS,
    ChannelConfig,
    StockroomClient,
)
from multistore.channels.reservations import Reservations
from multistore.channels.sync import sync_store
from multistore.channels.webhooks import WebhookSecret, sign
from sandbox import credentials

STORE = "store-0007"
NAMES = ("shopify", "square", "ebay", "amazon", "custom")
POLICY = Policy(
    (
        Channel("shopify", priority=3),
        Channel("square", priority=2),
        Channel("ebay"),
        Channel("amazon"),
        Channel("custom"),
    ),
    buffer_units=1,
)


def clients(url: str) -> tuple[StockroomClient, dict]:
    config = ChannelConfig(url, credentials.CHANNEL_TOKEN, STORE, "hook-secret", "https://h/x")
    made = {name: cls(config, sleep=lambda _s: None) for name, cls in CLIENTS.items()}
    return StockroomClient(config), made


@pytest.fixture
def synced(sandbox):  # type: ignore[no-untyped-def]
    sandbox.admin.configure(products_per_store=600)
    stockroom, channel_clients = clients(sandbox.url)
    book = Reservations()
    first = sync_store(STORE, POLICY, stockroom, channel_clients, book)
    return sandbox, stockroom, channel_clients, book, first


def test_first_sync_writes_the_differences_in_batches_and_second_writes_nothing(synced) -> None:  # type: ignore[no-untyped-def]
    sandbox, stockroom, channel_clients, book, first = synced
    truth = sandbox.admin.channels_truth(STORE)
    stock = book.stock(STORE)
    for name, report in first.items():
        assert report.listed == 600 and report.changes > 500
        assert report.written == report.changes and not report.failed
        assert truth["writes"][name] == report.changes
        batch = channel_clients[name].batch_size
        if name == "amazon":  # 1 read; one feed: document, upload, feed, 2 polls, report
            assert report.calls == 1 + 6
            continue
        # Shopify: 3 pages of levels and one of orders; Square: one of counts, one of orders.
        read_calls = {"shopify": 4, "square": 2, "ebay": 3, "custom": 2}[name]
        assert report.calls == read_calls + math.ceil(report.changes / batch)
    # Together the channels show at most on hand − reserved − the buffer, per product.
    shown = sum(
        [stock.index.map(truth["levels"][name]).to_series(index=stock.index) for name in NAMES]
    )
    assert (shown <= (stock["on_hand"] - 1).clip(lower=0)).all()

    second = sync_store(STORE, POLICY, stockroom, channel_clients, book)
    assert all(r.changes == 0 and r.written == 0 for r in second.values())
    assert sandbox.admin.channels_truth(STORE)["writes"] == truth["writes"]


def test_a_sale_is_synced_to_the_other_channels_only_where_it_changed(synced) -> None:  # type: ignore[no-untyped-def]
    sandbox, stockroom, channel_clients, book, _first = synced
    truth = sandbox.admin.channels_truth(STORE)
    sku = next(s for s, q in truth["levels"]["square"].items() if q >= 2)
    assert sandbox.admin.sell(STORE, "square", sku, 2)["sold"]
    again = sync_store(STORE, POLICY, stockroom, channel_clients, book)
    assert sum(r.changes for r in again.values()) >= 1
    assert all(r.changes <= 5 for r in again.values())
    after = sandbox.admin.channels_truth(STORE)
    total = sum(after["levels"][n][sku] for n in NAMES)
    assert total <= max(after["on_hand"][sku] - 1, 0)


@pytest.mark.parametrize("name", ["ebay", "amazon", "custom"])
def test_partial_failure_names_the_sku_and_keeps_the_rest(sandbox, name: str) -> None:  # type: ignore[no-untyped-def]
    sandbox.admin.configure(products_per_store=30)
    _stockroom, channel_clients = clients(sandbox.url)
    result = channel_clients[name].write({"P-000001": 3, "NOPE": 2, "P-000002": -1, "P-000003": 4})
    assert result.written == 2
    assert set(result.failed) == {"NOPE", "P-000002"}
    levels = sandbox.admin.channels_truth(STORE)["levels"][name]
    assert (levels["P-000001"], levels["P-000003"]) == (3, 4)


def test_each_client_verifies_its_vendors_webhooks(sandbox) -> None:  # type: ignore[no-untyped-def]
    _stockroom, channel_clients = clients(sandbox.url)
    body = b'{"event_id": "e1"}'
    for name, scheme in (
        ("shopify", "shopify"),
        ("square", "square"),
        ("ebay", "custom"),
        ("amazon", "custom"),
        ("custom", "custom"),
    ):
        secret = WebhookSecret(scheme, "hook-secret", "https://h/x")
        headers = {
            **sign(secret, body),
            "X-Shopify-Webhook-Id": "e1",
            "X-Multistore-Delivery": "e1",
        }
        assert channel_clients[name].verify_webhook(body, headers).delivery_id == "e1"


class CountingPools:
    """Pools that record which pool each call held a slot of, and that it was given back."""

    def __init__(self) -> None:
        self.held: list[str] = []
        self.open = 0

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        self.held.append(name)
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1

    def throttle(self, name: str) -> None:
        raise AssertionError(f"no channel pool has a shared rate ({name})")


def test_every_request_holds_a_slot_of_its_vendors_shared_pool(sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.admin.configure(products_per_store=60)
    config = ChannelConfig(sandbox.url, credentials.CHANNEL_TOKEN, STORE)
    pools = CountingPools()
    made = {name: cls(config, pools=pools, sleep=lambda _s: None) for name, cls in CLIENTS.items()}
    reports = sync_store(STORE, POLICY, StockroomClient(config, pools=pools), made, Reservations())
    calls = sum(r.calls for r in reports.values())
    assert calls > 10 and pools.open == 0
    stockroom_calls = pools.held.count("api:stockroom")
    assert stockroom_calls >= 1
    assert len(pools.held) == calls + stockroom_calls
    for name, report in reports.items():
        assert pools.held.count(f"api:{name}") == report.calls


@pytest.mark.parametrize("channel", ["shopify", "square"])
def test_orders_are_read_with_each_line_a_channel_lists(sandbox, channel: str) -> None:  # type: ignore[no-untyped-def]
    """Shopify's orders.json and Square's orders/search, paged: an order line listed twice is
    read twice (the duplicate sale conflict), and an order older than `since` is not read."""
    from datetime import UTC, datetime, timedelta

    sandbox.admin.configure(products_per_store=20)
    _stockroom, made = clients(sandbox.url)
    client = made[channel]
    assert sandbox.admin.sell(STORE, channel, "P-000003", 1, order_id="old-1")["sold"]
    sandbox.admin.advance_clock(3600)  # the sales below are an hour after old-1
    since = datetime.now(UTC) + timedelta(minutes=30)
    levels = sandbox.admin.channels_truth(STORE)["levels"][channel]
    sku = next(s for s, q in sorted(levels.items()) if q >= 2 and s != "P-000003")
    for _ in range(2):
        assert sandbox.admin.sell(STORE, channel, sku, 1, order_id="o-5")["sold"]
    orders = client.read_orders(since)
    assert orders["sku"].tolist() == [sku] * 2
    assert orders["order_id"].tolist() == ["o-5"] * 2
    assert orders["quantity"].tolist() == [1, 1]
