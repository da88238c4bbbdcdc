"""One Chromium for a client's browser work, replaced when it crashes: the recovery every browser
client shares.

A crash (the browser process gone) is LOCAL: `Browser.attempt()` turns it into
`CallFailed(Kind.LOCAL)`, the browser is relaunched on the next try, and the breaker does not
count it (the vendor did nothing wrong). A page that answers an HTTP error is that status's kind;
a navigation that fails while the browser lives (refused, reset, timed out) is an OUTAGE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, Page, Playwright
from playwright.sync_api import Error as PlaywrightError

from multistore.calls import CallFailed, Kind
from multistore.retry import kind_of_status
from multistore.settings import get_settings

TIMEOUT_MS = 30_000


class Browser:
    """A browser, one context and at most one open page; `launches` counts relaunches."""

    def __init__(
        self,
        playwright: Playwright,
        *,
        timeout_ms: int = TIMEOUT_MS,
        before_close_page: Callable[[Page], None] | None = None,
    ) -> None:
        self.playwright = playwright
        self.timeout_ms = timeout_ms
        self.before_close_page = before_close_page
        self.browser: PlaywrightBrowser | None = None
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.launches = 0
        self.pages_opened = 0

    def alive(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    def launch(self) -> None:
        self.close()
        self.browser = self.playwright.chromium.launch(**get_settings().chromium_launch_options())
        self.context = self.browser.new_context()
        self.context.set_default_timeout(self.timeout_ms)
        self.launches += 1

    def ensure_page(self) -> Page:
        """An open page (a new browser first if the old one died)."""
        if not self.alive():
            self.launch()
            self.page = None
        if self.page is None or self.page.is_closed():
            assert self.context is not None
            self.page = self.context.new_page()
            self.pages_opened += 1
        return self.page

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Around one try of browser work: a crash becomes LOCAL (the dead browser let go, the
        next try launches another); any other browser error, the page not doing its part (a
        selector timed out), an OUTAGE."""
        try:
            yield
        except PlaywrightError as exc:
            if self.alive():
                raise CallFailed(Kind.OUTAGE, _first_line(exc)) from exc
            self.close()
            raise CallFailed(Kind.LOCAL, f"browser crashed: {_first_line(exc)}") from exc

    def close_page(self) -> None:
        page, self.page = self.page, None
        if page is None or page.is_closed():
            return
        # Each step on its own: a failed hook must not leave the page open.
        if self.before_close_page is not None:
            with suppress(PlaywrightError):
                self.before_close_page(page)
        with suppress(PlaywrightError):
            page.close()

    def close(self) -> None:
        self.close_page()
        if self.browser is not None:
            with suppress(PlaywrightError):
                self.browser.close()
        self.browser = self.context = None


def goto(page: Page, url: str) -> Any:
    """Navigate; an HTTP error answer is a CallFailed of its status's kind, a failed navigation
    of a live browser an OUTAGE (a dead browser's is left to `Browser.attempt`)."""
    try:
        response = page.goto(url, wait_until="domcontentloaded")
    except PlaywrightError as exc:
        if page.context.browser is not None and not page.context.browser.is_connected():
            raise
        raise CallFailed(Kind.OUTAGE, f"GET {urlsplit(url).path}: {_first_line(exc)}") from exc
    if response is not None and response.status >= 400:
        raise page_status(url, response.status)
    return response


def page_status(url: str, status: int) -> CallFailed:
    return CallFailed(
        kind_of_status(status), f"HTTP {status} on GET {urlsplit(url).path}", status=status
    )


def _first_line(exc: BaseException) -> str:
    # Playwright appends a multi-line call log.
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
