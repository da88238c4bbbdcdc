"""Vehicle detail pages: read what their JavaScript renders (price, features) in a real browser.

One Chromium per call of `scrape`, launched before taking a `browser` pool slot (launching is
CPU, not pool time); then one page, held with the slot (`hold="session"`), works through the
store's vehicles one after another. Each page load is one call of the policy with the `vdp`
breaker: a page that answers 5xx or 429 (or whose data call does) is retried and, in the end,
fails the job; a 404 or a page whose script rendered nothing fails that vehicle alone. A crashed
browser is replaced and the page retried, and is not the vendor's failure (LOCAL).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from multistore.calls import Caller, CallFailed, Kind, Pools
from multistore.clients.browser import Browser, goto, page_status
from multistore.clock import SYSTEM_CLOCK, Clock
from multistore.pools import BROWSER
from multistore.retry import ServiceError

SERVICE = "vdp"
# How long a page's script may take to render the price before the page counts as broken.
RENDER_TIMEOUT_MS = 30_000
NAVIGATION_TIMEOUT_MS = 30_000
ATTEMPTS = 3


@dataclass
class PageResult:
    url: str
    price: str | None = None
    features: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


class RenderError(Exception):
    """The page loaded but its script did not render what we read (that vehicle only)."""


class VehiclePages:
    """Reads one dealer's vehicle detail pages."""

    def __init__(
        self,
        base_url: str,
        dealer_id: str,
        *,
        store_id: str,
        pools: Pools,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.page_base = f"{base_url.rstrip('/')}/vdp/{dealer_id}"
        self.store_id = store_id
        self.caller = Caller(
            SERVICE,
            store=store_id,
            pools=pools,
            pool=BROWSER,
            hold="session",
            clock=clock,
            attempts=ATTEMPTS,
        )

    def urls(self, vins: list[str]) -> list[str]:
        return [f"{self.page_base}/{vin}" for vin in vins]

    def scrape(self, urls: list[str]) -> dict[str, Any]:
        """Every page's rendered price and features, with `busy_seconds` (page work inside the
        slot) and when the slot was held (`slot_from`, `slot_until`, epoch seconds;
        `slot_seconds`)."""
        if not urls:  # no browser, no slot
            now = time.time()
            return _stats([], now, now)
        with self.browser() as browser, self.caller.session():
            slot_from = time.time()
            results = [self.read(browser, url) for url in urls]
            browser.close_page()
            slot_until = time.time()
        stats = _stats(results, slot_from, slot_until)
        stats["browser_launches"] = browser.launches
        return stats

    @contextmanager
    def browser(self) -> Iterator[Browser]:
        """A launched browser (launching is CPU, not pool time: no slot here)."""
        with sync_playwright() as playwright:
            browser = Browser(playwright, timeout_ms=NAVIGATION_TIMEOUT_MS)
            try:
                browser.launch()
                yield browser
            finally:
                browser.close()

    def read(self, browser: Browser, url: str) -> PageResult:
        """One vehicle's page, as one call of the policy (a crashed browser is replaced)."""
        began = time.monotonic()

        def attempt() -> tuple[str | None, list[str]]:
            with browser.attempt():
                return _read(browser, url)

        try:
            price, features = self.caller.call(attempt)
            result = PageResult(url, price=price, features=features)
        except ServiceError as exc:
            if exc.kind is not Kind.REJECTED:
                raise  # the site is down or refusing us: the job fails
            result = PageResult(url, error=f"HTTP {exc.status}")  # e.g. 404: this vehicle only
        except RenderError as exc:
            result = PageResult(url, error=str(exc))
        result.seconds = time.monotonic() - began
        return result


def _read(browser: Browser, url: str) -> tuple[str | None, list[str]]:
    page = browser.ensure_page()
    goto(page, url)
    # The page's script marks the outcome of its data call on #vehicle: loaded or error.
    try:
        page.wait_for_selector(
            "#vehicle[data-loaded], #vehicle[data-error]",
            state="attached",
            timeout=RENDER_TIMEOUT_MS,
        )
    except PlaywrightError as exc:
        if not browser.alive():
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RenderError(f"{url}: price not rendered ({first})") from exc
    failure = page.get_attribute("#vehicle", "data-error")
    if failure:
        match = re.search(r"HTTP (\d{3})", failure)
        if match is None:
            raise CallFailed(Kind.OUTAGE, f"{url}: page data call failed: {failure}")
        raise page_status(url, int(match.group(1)))
    price = page.text_content("#price")
    features = page.locator("#features li").all_text_contents()
    return (price or "").strip() or None, [f.strip() for f in features]


def _stats(results: list[PageResult], slot_from: float, slot_until: float) -> dict[str, Any]:
    return {
        "pages": [asdict(r) for r in results],
        "busy_seconds": sum(r.seconds for r in results),
        "slot_seconds": slot_until - slot_from,
        "slot_from": slot_from,
        "slot_until": slot_until,
    }
