"""Vehicle detail pages: read what their JavaScript renders (price, features) in a real browser.

One Chromium per task, launched before taking a `browser` pool slot (launching is CPU, not pool
time); then one page, held with the slot, works through the store's vehicles one after another.
Each page load passes the `vdp` breaker and the retry policy: navigation failures are translated
to the httpx errors the policy understands.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

import httpx
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from prefect import task
from prefect.cache_policies import NONE

from multistore.guarded import guarded_call
from multistore.retry import ServiceError
from multistore.settings import get_settings
from tasks.pools import pool_slot

# How long a page's script may take to render the price before the page counts as broken.
RENDER_TIMEOUT_MS = 30_000
NAVIGATION_TIMEOUT_MS = 30_000


@dataclass
class PageResult:
    url: str
    price: str | None = None
    features: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@task(name="vdp-scrape", tags=["browser"], cache_policy=NONE)
def scrape_pages(urls: list[str], store_id: str) -> dict:
    """Every page's rendered price and features, with `busy_seconds` (page work inside the slot)
    and when the slot was held (`slot_from`, `slot_until`, epoch seconds; `slot_seconds`)."""
    results: list[PageResult] = []
    if not urls:  # no browser, no slot
        now = time.time()
        return {
            "pages": [],
            "busy_seconds": 0.0,
            "slot_seconds": 0.0,
            "slot_from": now,
            "slot_until": now,
        }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**get_settings().chromium_launch_options())
        try:
            with pool_slot("browser"):
                slot_from = time.time()
                page = browser.new_page()
                page.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
                for url in urls:
                    results.append(_scrape(page, url, store_id))
                page.close()
                slot_until = time.time()
        finally:
            browser.close()
    return {
        "pages": [asdict(r) for r in results],
        "busy_seconds": sum(r.seconds for r in results),
        "slot_seconds": slot_until - slot_from,
        "slot_from": slot_from,
        "slot_until": slot_until,
    }


def _scrape(page: Page, url: str, store_id: str) -> PageResult:
    began = time.monotonic()
    try:
        price, features = guarded_call(
            lambda: _read(page, url), service="vdp", store=store_id, attempts=3
        )
        result = PageResult(url, price=price, features=features)
    except ServiceError as exc:
        if exc.status is None or exc.status >= 500 or exc.status == 429:
            raise  # the site is down or refusing us: the job fails
        result = PageResult(url, error=f"HTTP {exc.status}")  # e.g. 404: this vehicle only
    except _RenderError as exc:
        result = PageResult(url, error=str(exc))
    result.seconds = time.monotonic() - began
    return result


class _RenderError(Exception):
    """The page loaded but its script did not render what we read."""


def _read(page: Page, url: str) -> tuple[str, list[str]]:
    request = httpx.Request("GET", url)
    try:
        response = page.goto(url, wait_until="domcontentloaded")
    except PlaywrightError as exc:
        raise httpx.ConnectError(str(exc).splitlines()[0], request=request) from exc
    if response is not None and response.status >= 400:
        raise httpx.HTTPStatusError(
            f"HTTP {response.status}",
            request=request,
            response=httpx.Response(response.status, request=request),
        )
    # The page's script marks the outcome of its data call on #vehicle: loaded or error.
    try:
        page.wait_for_selector(
            "#vehicle[data-loaded], #vehicle[data-error]",
            state="attached",
            timeout=RENDER_TIMEOUT_MS,
        )
    except PlaywrightError as exc:
        raise _RenderError(f"{url}: price not rendered ({str(exc).splitlines()[0]})") from exc
    failure = page.get_attribute("#vehicle", "data-error")
    if failure:
        status = _status_in(failure)
        if status is None:
            raise httpx.ConnectError(f"{url}: page data call failed: {failure}", request=request)
        raise httpx.HTTPStatusError(
            f"{url}: page data call answered HTTP {status}",
            request=request,
            response=httpx.Response(status, request=request),
        )
    price = page.text_content("#price")
    features = page.locator("#features li").all_text_contents()
    return (price or "").strip() or None, [f.strip() for f in features]


def _status_in(message: str) -> int | None:
    """The HTTP status in the page script's error ("Error: HTTP 503"), if it carries one."""
    match = re.search(r"HTTP (\d{3})", message)
    return int(match.group(1)) if match else None
