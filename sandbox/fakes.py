"""In-process fakes of every client (multistore.clients, and the sales channels' clients of
multistore.channels.connectors), answering from the sandbox's data.

Each fake has its client's methods and answers what the sandbox would over HTTP, from the same
generators and the same mutable `SandboxState` (flags saved through the UI, short links), so a
store's whole pipeline logic runs in one process: no server, no HTTP, no browser. `calls`
records each method called, for tests that check what a job asked for.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pandas as pd

from sandbox import data, inventory
from sandbox.channels import VENDORS, before_write, catalogue, write
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState
from sandbox.vendors import ebay, square
from sandbox.vendors.crm import current_contact
from sandbox.vendors.dealercom import listing_items
from sandbox.vendors.homenet import feed_csv
from sandbox.vendors.shortener import code_for

BASE_URL = "http://sandbox.fake"


class _Fake:
    def __init__(self, world: FakeWorld, store_id: str) -> None:
        self.world = world
        self.state = world.state
        self.store_id = store_id

    def _called(self, what: str) -> None:
        self.world.calls.append((type(self).__name__, self.store_id, what))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


class FakeCRMApi(_Fake):
    def contacts(self) -> list[dict[str, Any]]:
        self._called("contacts")
        total = self.state.config.contacts_per_store
        return [current_contact(self.state, self.store_id, i) for i in range(total)]


class FakeCRMWebUI(_Fake):
    def apply_flags(self, changes: dict[str, bool]) -> dict[str, Any]:
        self._called("apply_flags")
        for contact_id, flag in changes.items():
            self.state.crm_flags[(self.store_id, contact_id)] = flag
        used = 1 if changes else 0
        return {
            "flags_updated": len(changes),
            "browser_launches": used,
            "sign_ins": used,
            "pages_opened": used,
        }


class FakeDNC(_Fake):
    def scrub(self, numbers: list[str]) -> dict[str, tuple[str, str]]:
        self._called("scrub")
        verdicts = {}
        for number in numbers:
            if len(number) == 10 and data.ascii_digits(number):
                result = data.scrub_result(self.state.config.seed, number)
                verdicts[number] = (result["code"], result["reason"])
            else:
                verdicts[number] = ("I", "Malformed number")
        return verdicts


class FakeHomeNet(_Fake):
    def feed(self) -> str:
        self._called("feed")
        return feed_csv(self.state, self.store_id)


class FakeDealercom(_Fake):
    def listing(self, *, page_size: int = 50) -> list[dict[str, Any]]:
        self._called("listing")
        return listing_items(self.state, self.store_id, BASE_URL)


class FakeVehiclePages(_Fake):
    def urls(self, vins: list[str]) -> list[str]:
        return [f"{BASE_URL}/vdp/{self.store_id}/{vin}" for vin in vins]

    def scrape(self, urls: list[str]) -> dict[str, Any]:
        self._called("scrape")
        config = self.state.config
        pages = []
        for url in urls:
            vin = urlsplit(url).path.rsplit("/", 1)[-1]
            v = inventory.find_vehicle(
                config.seed, self.store_id, vin, config.vehicles_per_store, config.today
            )
            page: dict[str, Any] = {"url": url, "price": None, "features": [], "error": None}
            if v is None:
                page["error"] = "HTTP 404"
            else:
                page["price"], page["features"] = inventory.dollars(v["finalPrice"]), v["Options"]
            pages.append({**page, "seconds": 0.0})
        return {
            "pages": pages,
            "busy_seconds": 0.0,
            "slot_seconds": 0.0,
            "slot_from": 0.0,
            "slot_until": 0.0,
        }


class FakeShortener(_Fake):
    def shorten(self, urls: list[str]) -> dict[str, dict]:
        self._called("shorten")
        links = {}
        for url in urls:
            code = code_for(url)
            self.state.short_links[code] = url
            links[url] = {"short_url": f"{BASE_URL}/s/{code}", "code": code}
        return links


@dataclass
class Written:
    """What a channel write did (the shape of connectors.WriteResult)."""

    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class SandboxClock:
    """The sandbox's wall clock (moved by `SandboxState.advance_clock`) as a client's clock."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.state.wall(), UTC)


class FakeChannel(_Fake):
    """A sales channel's client (connectors.ChannelClient: read_levels, read_orders, write) on
    the sandbox's catalogue of the store, with each vendor's write semantics as the sandbox
    applies them: Shopify's compare-and-set ending where the real client's re-read ends (a sale
    since the read is kept), Square's counts as of the read (`occurred_at`), eBay's daily
    revision limit, Amazon's and the custom channel's absolute writes. The sandbox's
    sell-on-next-write hook fires at each write, as over HTTP. `calls` counts the requests the
    real client would make (one per page and per batch)."""

    vendor: ClassVar[str]
    page_size: ClassVar[int]
    batch_size: ClassVar[int]
    calls_per_batch: ClassVar[int] = 1

    def __init__(self, world: FakeWorld, store_id: str) -> None:
        super().__init__(world, store_id)
        self.service = self.vendor
        self.cat = catalogue(self.state, store_id)
        self.clock = SandboxClock(self.state)
        self.calls = 0
        self.throttled = 0
        self._read: dict[str, int] = {}
        self._read_at = 0.0

    def read_levels(self) -> pd.DataFrame:
        self._called("read_levels")
        cat, vendor = self.cat, self.vendor
        self.calls += max(1, math.ceil(len(cat.skus) / self.page_size))
        self._read = dict(cat.levels[vendor])
        self._read_at = cat.stamp(self.state.wall())
        return pd.DataFrame(
            {
                "sku": cat.skus,
                "quantity": [float(self._read[s]) for s in cat.skus],
                "price": [cat.price_on(vendor, s) for s in cat.skus],
                "title": [cat.title_on(vendor, s) for s in cat.skus],
            }
        )

    def read_orders(self, since: datetime) -> pd.DataFrame | None:
        return None

    def write(self, changes: Mapping[str, int]) -> Written:
        self._called("write")
        result = Written()
        if not changes:
            return result
        self.calls += math.ceil(len(changes) / self.batch_size) * self.calls_per_batch
        before_write(self.state, self.cat, self.vendor)
        for sku, quantity in changes.items():
            if sku not in self.cat.on_hand or int(quantity) < 0:
                result.failed[sku] = f"{self.vendor}: rejected"
                continue
            refused = self._set(sku, int(quantity))
            if refused:
                result.failed[sku] = refused
            else:
                result.written += 1
        return result

    def _set(self, sku: str, quantity: int) -> str | None:
        """Apply one write; the reason it was refused, or None."""
        write(self.cat, self.vendor, sku, quantity)
        return None


class _Orders(FakeChannel):
    """A channel whose orders the client reads (Shopify's orders.json, Square's orders/search)."""

    def read_orders(self, since: datetime) -> pd.DataFrame:
        self._called("read_orders")
        self.calls += 1
        rows = [
            (s["sku"], str(s["order_id"]), s["quantity"])
            for s in self.cat.sales
            if s["channel"] == self.vendor and s.get("order_id") and s["at"] >= since.timestamp()
        ]
        return pd.DataFrame(rows, columns=["sku", "order_id", "quantity"])


class FakeShopify(_Orders):
    vendor, page_size, batch_size = "shopify", 250, 250

    def _set(self, sku: str, quantity: int) -> str | None:
        if sku not in self._read:
            return "not listed on shopify (read the levels first)"
        now = self.cat.levels[self.vendor][sku]
        if now != self._read[sku]:  # stale: what it shows now plus the change meant
            quantity = max(now + quantity - self._read[sku], 0)
        write(self.cat, self.vendor, sku, quantity)
        self._read[sku] = quantity
        return None


class FakeSquare(_Orders):
    vendor, page_size, batch_size = "square", 1000, 100

    def _set(self, sku: str, quantity: int) -> str | None:
        square.apply_count(self.cat, sku, quantity, self._read_at or self.state.wall())
        return None


class FakeEbay(FakeChannel):
    vendor, page_size, batch_size = "ebay", 200, 25

    def _set(self, sku: str, quantity: int) -> str | None:
        if ebay.revise(self.state, self.store_id, self.cat, sku, quantity):
            return None
        return "ebay: revision limit"


class FakeAmazon(FakeChannel):
    vendor, page_size, batch_size = "amazon", 1000, 25_000
    # create document, upload, create feed, two polls, read the report
    calls_per_batch = 6


class FakeCustom(FakeChannel):
    vendor, page_size, batch_size = "custom", 500, 50


FAKE_CHANNELS: dict[str, type[FakeChannel]] = {
    c.vendor: c for c in (FakeShopify, FakeSquare, FakeEbay, FakeAmazon, FakeCustom)
}
assert set(FAKE_CHANNELS) == set(VENDORS)


class FakeStockroom(_Fake):
    """The store's inventory system (connectors.StockroomClient.read_stock)."""

    service = "stockroom"

    def __init__(self, world: FakeWorld, store_id: str) -> None:
        super().__init__(world, store_id)
        self.calls = self.throttled = 0

    def read_stock(self) -> pd.DataFrame:
        self._called("read_stock")
        self.calls += 1
        cat = catalogue(self.state, self.store_id)
        return pd.DataFrame(
            {
                "on_hand": [cat.on_hand[s] for s in cat.skus],
                "price": [cat.price[s] for s in cat.skus],
                "title": [cat.title[s] for s in cat.skus],
            },
            index=pd.Index(cat.skus, name="sku"),
        )


class FakeWorld:
    """The sandbox's world in this process; `clients(store_id)` are one store's fakes."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.state = SandboxState(config or SandboxConfig())
        self.calls: list[tuple[str, str, str]] = []

    def clients(self, store_id: str) -> FakeClients:
        return FakeClients(self, store_id)

    def channels(self, store_id: str, names: tuple[str, ...] = VENDORS) -> dict[str, FakeChannel]:
        """One store's sales channel clients, by channel type."""
        return {n: FAKE_CHANNELS[n](self, store_id) for n in names}

    def stockroom(self, store_id: str) -> FakeStockroom:
        return FakeStockroom(self, store_id)


class FakeClients:
    """`multistore.clients.StoreClients` for one store, made of fakes."""

    def __init__(self, world: FakeWorld, store_id: str) -> None:
        self.world, self.store_id = world, store_id

    def crm(self) -> FakeCRMApi:
        return FakeCRMApi(self.world, self.store_id)

    def crm_ui(self) -> FakeCRMWebUI:
        return FakeCRMWebUI(self.world, self.store_id)

    def dnc(self) -> FakeDNC:
        return FakeDNC(self.world, self.store_id)

    def homenet(self) -> FakeHomeNet:
        return FakeHomeNet(self.world, self.store_id)

    def dealercom(self) -> FakeDealercom:
        return FakeDealercom(self.world, self.store_id)

    def vdp(self) -> FakeVehiclePages:
        return FakeVehiclePages(self.world, self.store_id)

    def shortener(self) -> FakeShortener:
        return FakeShortener(self.world, self.store_id)


class FakePools:
    """The shared pools in one process (multistore.calls.Pools): unlimited, but they count the
    slots of each pool held now (`in_use`) and at most at once (`peak`), so a test reads back the
    concurrency the code under test reached. `changed` is notified at every take and give back."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.in_use: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        with self.changed:
            self.in_use[name] += 1
            self.peak[name] = max(self.peak[name], self.in_use[name])
            self.changed.notify_all()
        try:
            yield
        finally:
            with self.changed:
                self.in_use[name] -= 1
                self.changed.notify_all()

    def throttle(self, name: str) -> None:
        self.throttled[name] += 1
