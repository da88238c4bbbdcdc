"""The CRM's web UI, the only way to change a contact's DoNotCall flag: Playwright in Chromium.

One browser per task, signed in once; the signed-in context is reused for every contact. A page
holds a `browser` pool slot while it is open (`hold="session"`): it works through up to
`pages_per_slot` contacts, then closes and gives the slot back so other stores get their turn.
Every contact is one call of the policy: a 5xx page, a form that failed to load or a save that did
not say "Saved" is tried again; a crashed browser is replaced (new browser, new sign-in) in the
same call (multistore.clients.browser). No circuit breaker: a page failing says little about the
service (the CRM's API calls carry the `crm` breaker).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Page, sync_playwright
from pydantic import SecretStr

from multistore.calls import Caller, CallFailed, Kind, Pools
from multistore.clients.browser import Browser, goto
from multistore.clock import SYSTEM_CLOCK, Clock
from multistore.pools import BROWSER
from multistore.retry import ServiceError

SERVICE = "crm_ui"
PAGES_PER_SLOT = 25
# Each try loads a page and its form (two requests) and saves (one or more): at a 30% failure
# rate a try succeeds about half the time, so a page gets many tries before the run gives up.
PAGE_ATTEMPTS = 12
SAVE_CLICKS = 4
SAVED = "Saved"
# Closes the page's presence socket first, so the server sees the page gone with the slot.
CLOSE_PRESENCE = """() => new Promise(done => {
    const s = window.__presence;
    if (!s || s.readyState === WebSocket.CLOSED) { done(); return; }
    s.addEventListener("close", () => done()); s.close();
    setTimeout(done, 2000);
})"""


@dataclass(frozen=True)
class CRMWebConfig:
    base_url: str
    dealer_id: str
    username: str
    password: SecretStr


class SignInError(ServiceError):
    """The UI refused our login for good (wrong credentials)."""


class CRMWebUI:
    """Sets DoNotCall flags in one dealer's CRM web UI."""

    def __init__(
        self,
        config: CRMWebConfig,
        *,
        store_id: str,
        pools: Pools,
        clock: Clock = SYSTEM_CLOCK,
        pages_per_slot: int = PAGES_PER_SLOT,
    ) -> None:
        self.config = config
        self.store_id = store_id
        self.pages_per_slot = pages_per_slot
        self.ui_url = f"{config.base_url.rstrip('/')}/ui"
        self.caller = Caller(
            SERVICE,
            store=store_id,
            pools=pools,
            pool=BROWSER,
            hold="session",
            breaker=False,
            clock=clock,
            attempts=PAGE_ATTEMPTS,
        )

    def apply_flags(self, changes: dict[str, bool]) -> dict[str, Any]:
        """Set every contact's flag; statistics of the browser work."""
        if not changes:
            return {"flags_updated": 0, "browser_launches": 0, "sign_ins": 0, "pages_opened": 0}
        items = sorted(changes.items())
        slot_seconds = 0.0
        with self.session() as session:
            for start in range(0, len(items), self.pages_per_slot):
                with self.caller.session():
                    held = time.monotonic()
                    try:
                        for contact_id, flag in items[start : start + self.pages_per_slot]:
                            session.set_flag(contact_id, flag)
                    finally:
                        session.browser.close_page()
                        slot_seconds += time.monotonic() - held
            return {
                "flags_updated": len(items),
                "browser_launches": session.browser.launches,
                "sign_ins": session.sign_ins,
                "pages_opened": session.browser.pages_opened,
                "slot_seconds": round(slot_seconds, 3),
            }

    @contextmanager
    def session(self) -> Iterator[CRMWebSession]:
        """A signed-in browser session (no pool slot: `apply_flags` holds those)."""
        with sync_playwright() as playwright:
            session = CRMWebSession(self, Browser(playwright, before_close_page=_close_presence))
            try:
                yield session
            finally:
                session.browser.close()


class CRMWebSession:
    def __init__(self, ui: CRMWebUI, browser: Browser) -> None:
        self.ui = ui
        self.browser = browser
        self.sign_ins = 0

    @property
    def page(self) -> Page | None:
        return self.browser.page

    def set_flag(self, contact_id: str, do_not_call: bool) -> None:
        """Open the contact's page, set its DoNotCall box, save and wait for "Saved"."""
        config = self.ui.config
        url = f"{self.ui.ui_url}/dealers/{quote(config.dealer_id)}/contacts/{quote(contact_id)}"

        def attempt() -> None:
            with self.browser.attempt():
                page = self._signed_in_page()
                goto(page, url)
                if "/login" in page.url:  # the session ended: sign in again, then retry
                    page.context.clear_cookies()
                    raise CallFailed(Kind.OUTAGE, "signed out")
                page.wait_for_selector("#do-not-call, #load-error", state="attached")
                if page.query_selector("#load-error") is not None:
                    raise CallFailed(
                        Kind.OUTAGE, f"contact {contact_id}: {_text(page, '#load-error')}"
                    )
                page.set_checked("#do-not-call", do_not_call)
                _save(page, contact_id)

        self.ui.caller.call(attempt)

    def _signed_in_page(self) -> Page:
        page = self.browser.ensure_page()
        if not any(c["name"] == "crm_session" for c in page.context.cookies()):
            self._sign_in(page)
        return page

    def _sign_in(self, page: Page) -> None:
        config = self.ui.config
        goto(page, f"{self.ui.ui_url}/login")
        page.fill("#username", config.username)
        page.fill("#password", config.password.get_secret_value())
        with page.expect_navigation(wait_until="domcontentloaded") as navigation:
            page.click("button[type=submit]")
        response = navigation.value
        status = response.status if response is not None else 200
        if "/login" in page.url or status >= 400:
            message = _text(page, "#login-error") or f"HTTP {status}"
            if status >= 500:
                raise CallFailed(Kind.OUTAGE, f"sign-in: {message}", status=status)
            raise SignInError(
                f"{SERVICE} for store {self.ui.store_id}: sign-in as "
                f"{config.username!r} refused: {message}",
                service=SERVICE,
                kind=Kind.REJECTED,
                store=self.ui.store_id,
            )
        self.sign_ins += 1


def _close_presence(page: Page) -> None:
    page.evaluate(CLOSE_PRESENCE)


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
    raise CallFailed(Kind.OUTAGE, f"contact {contact_id}: save answered {text!r}")


def _text(page: Page, selector: str) -> str:
    element = page.query_selector(selector)
    return (element.text_content() or "").strip() if element is not None else ""
