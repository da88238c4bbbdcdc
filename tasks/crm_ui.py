"""The CRM's web UI, the only way to change a contact's DoNotCall flag: Playwright in Chromium.

One browser task per store. It launches Chromium and signs in once; the signed-in context is
reused for every contact. Each page holds a `browser` pool slot while it is open: a page works
through up to `pages_per_slot` contacts, then closes and gives the slot back so other stores get
their turn. Every contact is retried under the retry policy: a 5xx page, a form that failed to
load or a save that did not say "Saved" is tried again; a browser that crashed is replaced (new
browser, new sign-in) before the next try. No circuit breaker here: a page failing says little
about the service (the CRM's API calls carry the `crm` breaker).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from blocks.crm import CRMCredentials
from multistore import retry
from multistore.retry import is_retryable
from multistore.settings import get_settings
from tasks.pools import pool_slot

SERVICE = "crm_ui"
POOL = "browser"
TIMEOUT_MS = 30_000
PAGES_PER_SLOT = 25
# Each try loads a page and its form (two requests) and saves (one or more): at a 30% failure
# rate a try succeeds about half the time, so a page gets many tries before the run gives up.
PAGE_ATTEMPTS = 12
SAVE_CLICKS = 4
SAVED = "Saved"


class PageProblem(Exception):
    """The page loaded but did not do its part (form not rendered, save refused): retry it."""


class SignInError(Exception):
    """The UI refused our login for good (wrong credentials)."""


def _retry_on(exc: BaseException) -> bool:
    return is_retryable(exc) or isinstance(exc, PageProblem | PlaywrightError)


class CRMWebSession:
    """A signed-in browser context for one dealer's CRM UI, replaced when the browser dies."""

    def __init__(self, playwright: Playwright, credentials: CRMCredentials, store_id: str) -> None:
        self.playwright = playwright
        self.credentials = credentials
        self.store_id = store_id
        self.ui_url = f"{credentials.base_url.rstrip('/')}/ui"
        self.browser: Browser | None = None
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.launches = 0
        self.sign_ins = 0
        self.pages_opened = 0

    # -- the browser and its page ------------------------------------------------------------
    def _alive(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    def _launch(self) -> None:
        self.close()
        self.browser = self.playwright.chromium.launch(**get_settings().chromium_launch_options())
        self.context = self.browser.new_context()
        self.context.set_default_timeout(TIMEOUT_MS)
        self.launches += 1

    def ensure_page(self) -> Page:
        """An open page in a signed-in context (a new browser if the old one died)."""
        if not self._alive():
            self._launch()
            self.page = None
        if self.page is None or self.page.is_closed():
            assert self.context is not None
            self.page = self.context.new_page()
            self.pages_opened += 1
        if not self._signed_in:
            self._sign_in(self.page)
        return self.page

    @property
    def _signed_in(self) -> bool:
        return self.context is not None and any(
            c["name"] == "crm_session" for c in self.context.cookies()
        )

    def close_page(self) -> None:
        """Close the page, first closing its presence socket so the server sees it gone."""
        page, self.page = self.page, None
        if page is None or page.is_closed():
            return
        # Two steps, each on its own: a failed socket close must not leave the page open (its
        # socket would outlive the pool slot). A page of a dead browser is closed already.
        with suppress(PlaywrightError):
            page.evaluate(
                """() => new Promise(done => {
                    const s = window.__presence;
                    if (!s || s.readyState === WebSocket.CLOSED) { done(); return; }
                    s.addEventListener("close", () => done()); s.close();
                    setTimeout(done, 2000);
                })"""
            )
        with suppress(PlaywrightError):
            page.close()

    def close(self) -> None:
        self.close_page()
        if self.browser is not None:
            with suppress(PlaywrightError):
                self.browser.close()
        self.browser = self.context = None

    # -- the UI ------------------------------------------------------------------------------
    def _sign_in(self, page: Page) -> None:
        _goto(page, f"{self.ui_url}/login")
        page.fill("#username", self.credentials.ui_username)
        page.fill("#password", self.credentials.ui_password.get_secret_value())
        with page.expect_navigation(wait_until="domcontentloaded") as navigation:
            page.click("button[type=submit]")
        response = navigation.value
        status = response.status if response is not None else 200
        if "/login" in page.url or status >= 400:
            message = _text(page, "#login-error") or f"HTTP {status}"
            if status >= 500:
                raise PageProblem(f"sign-in: {message}")
            raise SignInError(
                f"{SERVICE} for store {self.store_id}: sign-in as "
                f"{self.credentials.ui_username!r} refused: {message}"
            )
        self.sign_ins += 1

    def set_flag(self, contact_id: str, do_not_call: bool) -> None:
        """Open the contact's page, set its DoNotCall box, save and wait for "Saved"."""
        dealer = quote(self.credentials.dealer_id)
        url = f"{self.ui_url}/dealers/{dealer}/contacts/{quote(contact_id)}"

        def attempt() -> None:
            page = self.ensure_page()
            _goto(page, url)
            if "/login" in page.url:  # the session ended: sign in again, then retry
                self.context.clear_cookies()  # type: ignore[union-attr]
                raise PageProblem("signed out")
            page.wait_for_selector("#do-not-call, #load-error", state="attached")
            if page.query_selector("#load-error") is not None:
                raise PageProblem(f"contact {contact_id}: {_text(page, '#load-error')}")
            page.set_checked("#do-not-call", do_not_call)
            _save(page, contact_id)

        def attempt_on_a_live_browser() -> None:
            try:
                attempt()
            except PlaywrightError:
                if not self._alive():
                    self.close()  # crashed: the next attempt launches a new browser
                raise

        retry.call(
            attempt_on_a_live_browser,
            service=SERVICE,
            store=self.store_id,
            retry_on=_retry_on,
            attempts=PAGE_ATTEMPTS,
        )


def _save(page: Page, contact_id: str) -> None:
    """Click Save until the page says "Saved" (a refused save leaves the form as it was)."""
    text = ""
    for _ in range(SAVE_CLICKS):
        page.click("#save")
        status = page.locator("#status").filter(has_text=re.compile(r"^(Saved|Error)"))
        status.wait_for()
        text = (status.text_content() or "").strip()
        if text == SAVED:
            return
    raise PageProblem(f"contact {contact_id}: save answered {text!r}")


def _goto(page: Page, url: str) -> None:
    """Navigate; a 4xx/5xx answer becomes the httpx error the retry policy understands."""
    response = page.goto(url, wait_until="domcontentloaded")
    if response is not None and response.status >= 400:
        request = httpx.Request("GET", url)
        raise httpx.HTTPStatusError(
            f"HTTP {response.status}",
            request=request,
            response=httpx.Response(response.status, request=request),
        )


def _text(page: Page, selector: str) -> str:
    element = page.query_selector(selector)
    return (element.text_content() or "").strip() if element is not None else ""


@contextmanager
def crm_web_session(credentials: CRMCredentials, store_id: str) -> Iterator[CRMWebSession]:
    with sync_playwright() as playwright:
        session = CRMWebSession(playwright, credentials, store_id)
        try:
            yield session
        finally:
            session.close()


def apply_flags(
    session: CRMWebSession, changes: dict[str, bool], *, pages_per_slot: int = PAGES_PER_SLOT
) -> dict[str, Any]:
    """Set every contact's flag, a slot of the browser pool held for each page's stint."""
    items = sorted(changes.items())
    slot_seconds = 0.0
    for start in range(0, len(items), pages_per_slot):
        with pool_slot(POOL):
            held = time.monotonic()
            try:
                for contact_id, flag in items[start : start + pages_per_slot]:
                    session.set_flag(contact_id, flag)
            finally:
                session.close_page()
                slot_seconds += time.monotonic() - held
    return {
        "flags_updated": len(items),
        "browser_launches": session.launches,
        "sign_ins": session.sign_ins,
        "pages_opened": session.pages_opened,
        "slot_seconds": round(slot_seconds, 3),
    }


@task(name="crm-ui-flags", tags=[POOL], cache_policy=NONE)
def update_flags(
    changes: dict[str, bool], store_id: str, block_name: str, pages_per_slot: int = PAGES_PER_SLOT
) -> dict[str, Any]:
    """Change each contact's DoNotCall flag in the CRM's web UI; statistics of the browser work."""
    if not changes:
        return {"flags_updated": 0, "browser_launches": 0, "sign_ins": 0, "pages_opened": 0}
    credentials = CRMCredentials.load(block_name, _sync=True)
    with crm_web_session(credentials, store_id) as session:
        stats = apply_flags(session, changes, pages_per_slot=pages_per_slot)
    get_run_logger().info("store %s: %d CRM flags changed", store_id, stats["flags_updated"])
    return stats
