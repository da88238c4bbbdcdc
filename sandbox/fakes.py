"""In-process fakes of every client (multistore.clients), answering from the sandbox's data.

Each fake has its client's methods and answers what the sandbox would over HTTP, from the same
generators and the same mutable `SandboxState` (flags saved through the UI, short links), so a
store's whole pipeline logic runs in one process: no server, no HTTP, no browser. `calls`
records each method called, for tests that check what a job asked for.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from sandbox import data, inventory
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState
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


class FakeWorld:
    """The sandbox's world in this process; `clients(store_id)` are one store's fakes."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.state = SandboxState(config or SandboxConfig())
        self.calls: list[tuple[str, str, str]] = []

    def clients(self, store_id: str) -> FakeClients:
        return FakeClients(self, store_id)


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
