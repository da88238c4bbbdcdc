"""The CRM's web UI through a real Chromium: the only way to change DoNotCall."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import async_playwright

from multistore.settings import get_settings

pytestmark = pytest.mark.browser

DEALER = "store-0003"


@pytest.fixture
async def browser():
    async with async_playwright() as p:
        browser = await p.chromium.launch(**get_settings().chromium_launch_options())
        yield browser
        await browser.close()


async def login(page, base: str, dealer: str = DEALER) -> None:
    await page.goto(f"{base}/crm/ui/login")
    await page.fill("input[name=username]", f"{dealer}-user")
    await page.fill("input[name=password]", "sandbox-password")
    await page.click("button:has-text('Sign in')")
    await page.wait_for_url(f"**/crm/ui/dealers/{dealer}/contacts")


async def test_log_in_find_tick_save_and_ground_truth_shows_it(sandbox, browser):
    contacts = sandbox.admin.crm_contacts(DEALER)
    target = next(c for c in contacts if not c["ContactInformation"]["DoNotCall"])
    info = target["ContactInformation"]
    page = await browser.new_page()
    await login(page, sandbox.url)
    await page.goto(f"{sandbox.url}/crm/ui/dealers/{DEALER}/contacts?q={info['LastName']}")
    links = page.locator("a.contact-link", has_text=f"{info['LastName']}, {info['FirstName']}")
    await links.first.wait_for()
    hrefs = [await link.get_attribute("href") for link in await links.all()]
    assert f"/crm/ui/dealers/{DEALER}/contacts/{target['ContactId']}" in hrefs
    await page.goto(f"{sandbox.url}/crm/ui/dealers/{DEALER}/contacts/{target['ContactId']}")
    box = page.locator("#do-not-call")
    assert not await box.is_checked()
    await box.check()
    await page.click("#save")
    await page.locator("#status", has_text="Saved").wait_for()
    await page.close()

    flags = sandbox.admin.crm_flags(DEALER)
    assert flags[target["ContactId"]] is True
    before = {c["ContactId"]: c["ContactInformation"]["DoNotCall"] for c in contacts}
    assert {k for k, v in flags.items() if v != before[k]} == {target["ContactId"]}
    counts = sandbox.admin.vendor_counts("crm_ui")
    assert counts["logins"] == 1
    assert counts["pages"] >= 3


async def test_contact_form_is_rendered_by_javascript(sandbox):
    with httpx.Client(base_url=sandbox.url, follow_redirects=True) as http:
        form = {"username": f"{DEALER}-user", "password": "sandbox-password"}
        http.post("/crm/ui/login", data=form).raise_for_status()
        raw = http.get(f"/crm/ui/dealers/{DEALER}/contacts/10000004").text
    assert 'id="app"' in raw
    assert 'do-not-call"' not in raw.split("<script>")[0]


def test_a_save_of_the_value_the_contact_holds_counts_as_a_duplicate_write(sandbox):
    contact = "10000004"
    api = f"/crm/ui/api/dealers/{DEALER}/contacts/{contact}"
    with httpx.Client(base_url=sandbox.url, follow_redirects=True) as http:
        form = {"username": f"{DEALER}-user", "password": "sandbox-password"}
        http.post("/crm/ui/login", data=form).raise_for_status()
        flag = http.get(api).json()["ContactInformation"]["DoNotCall"]
        for value in (not flag, not flag, flag):
            http.post(api, json={"DoNotCall": value}).raise_for_status()
    counts = sandbox.admin.counters()["stores"][DEALER]["crm_ui"]
    assert (counts["saves"], counts["saves_unchanged"]) == (3, 1)


async def test_pages_need_a_session_and_wrong_logins_fail(sandbox):
    with httpx.Client(base_url=sandbox.url) as http:
        page = http.get(f"/crm/ui/dealers/{DEALER}/contacts/10000004")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/crm/ui/login?next=")
        wrong = http.post("/crm/ui/login", data={"username": f"{DEALER}-user", "password": "x"})
        assert wrong.status_code == 401
        assert "Invalid username or password" in wrong.text
        api = http.get(f"/crm/ui/api/dealers/{DEALER}/contacts/10000004")
        assert api.status_code == 401


async def test_presence_counts_concurrent_pages(sandbox, browser):
    context = await browser.new_context()
    first, second = await context.new_page(), await context.new_page()
    await login(first, sandbox.url)
    await second.goto(f"{sandbox.url}/crm/ui/dealers/{DEALER}/contacts/10000001")
    await second.locator("#do-not-call").wait_for()
    await first.wait_for_function("window.__presence.readyState === 1")
    await second.wait_for_function("window.__presence.readyState === 1")
    sessions = sandbox.admin.counters()["sessions"]
    assert sessions["now"] == 2
    assert sessions["stores"][DEALER]["now"] == 2
    await first.close()
    await second.close()
    await context.close()
    for _ in range(50):
        sessions = sandbox.admin.counters()["sessions"]
        if sessions["now"] == 0:
            break
        await asyncio.sleep(0.05)
    assert sessions["now"] == 0
    assert sessions["peak"] == 2


async def test_one_tab_navigating_counts_as_one_page(sandbox, browser):
    page = await browser.new_page()
    await login(page, sandbox.url)
    for n in range(6):
        await page.goto(f"{sandbox.url}/crm/ui/dealers/{DEALER}/contacts/{10000000 + n}")
        await page.locator("#do-not-call").wait_for()
    await page.wait_for_function("window.__presence.readyState === 1")
    sessions = sandbox.admin.counters()["sessions"]
    assert (sessions["now"], sessions["peak"]) == (1, 1)
    await page.close()


def test_overlapping_sockets_of_one_tab_count_once():
    from sandbox.counters import Counters

    counters = Counters(clock=lambda: 0.0)
    counters.page_opened("crm_ui", "s1", "tab-a")
    counters.page_opened("crm_ui", "s1", "tab-a")  # the next page, before the last one closed
    counters.page_opened("vdp", "s2", "tab-b")
    counters.page_closed("crm_ui", "s1", "tab-a")
    snapshot = counters.snapshot()["sessions"]
    assert (snapshot["now"], snapshot["peak"]) == (2, 2)
    assert snapshot["stores"] == {
        "s1": {"now": 1, "peak": 1, "busy_seconds": 0.0},
        "s2": {"now": 1, "peak": 1, "busy_seconds": 0.0},
    }
    counters.page_closed("crm_ui", "s1", "tab-a")
    counters.page_closed("vdp", "s2", "tab-b")
    assert counters.snapshot()["sessions"]["now"] == 0


async def test_a_hanging_page_never_loads_until_the_fault_is_off(sandbox, browser):
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    sandbox.admin.set_faults([{"vendor": "crm_ui", "store": DEALER, "hang_rate": 1.0}])
    page = await browser.new_page()
    await login(page, sandbox.url, dealer="store-0004")
    with pytest.raises(PlaywrightTimeout):
        await page.goto(f"{sandbox.url}/crm/ui/dealers/{DEALER}/contacts", timeout=1000)
    assert sandbox.admin.vendor_counts("crm_ui")["hangs"] >= 1
    sandbox.admin.clear_faults()
    await login(page, sandbox.url)
    await page.close()
