"""Inventory vendors: HomeNet CSV, Dealer.com listing, shortener; detail pages need a browser."""

from __future__ import annotations

import csv
import io
from datetime import date

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.async_api import async_playwright

from multistore.settings import get_settings
from multistore.vin import is_valid_vin
from sandbox.inventory import HOMENET_COLUMNS

DEALER = "store-0005"
HOMENET_KEY = {"X-API-Key": "sandbox-homenet-key"}
SHORTENER_KEY = {"X-API-Key": "sandbox-shortener-key"}


def homenet_rows(base: str, dealer: str = DEALER) -> list[dict[str, str]]:
    response = httpx.get(f"{base}/homenet/{dealer}/inventory.csv", headers=HOMENET_KEY)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.fixture
def sandbox(sandbox):
    """Dealer.com's 2 calls/s would slow paging tests down; its limit is tested like the others."""
    sandbox.admin.set_limits(dealercom=None)
    return sandbox


def listing(base: str, dealer: str = DEALER, page_size: int = 50) -> list[dict]:
    items, start = [], 0
    with httpx.Client(base_url=base) as http:
        while True:
            page = (
                http.get(
                    f"/dealercom/{dealer}/getInventory",
                    params={"start": start, "pageSize": page_size},
                )
                .raise_for_status()
                .json()
            )
            items += page["inventory"]
            start += page_size
            if start >= page["pageInfo"]["totalCount"]:
                return items


def test_homenet_feed_has_real_columns_and_the_announced_bad_rows(sandbox):
    rows = homenet_rows(sandbox.url)
    assert len(rows) == 50
    assert tuple(rows[0]) == HOMENET_COLUMNS
    truth = sandbox.admin.inventory_truth(DEALER)["homenet"]
    bad_stock = {r["stock"]: r["defect"] for r in truth["rejects"]}
    assert set(bad_stock.values()) == {
        "check_digit",
        "forbidden_letter",
        "price",
        "year",
        "missing_vin",
    }
    for row in rows:
        defect = bad_stock.get(row["Stock"])
        vin_ok = is_valid_vin(row["VIN"])
        assert vin_ok == (defect not in ("check_digit", "forbidden_letter", "missing_vin")), row
        assert (row["SellingPrice"] == "call") == (defect == "price")
        assert (row["Year"] == "1850") == (defect == "year")
        if not defect:
            assert row["Miles"].isdigit() and row["MSRP"].isdigit()
            assert row["ImageList"].count(",") == 2
    good = [r["VIN"] for r in rows if r["Stock"] not in bad_stock]
    assert good == truth["good_vins"]
    assert homenet_rows(sandbox.url) == rows, "deterministic"
    assert homenet_rows(sandbox.url, "store-0006") != rows


def test_homenet_needs_its_key(sandbox):
    response = httpx.get(f"{sandbox.url}/homenet/{DEALER}/inventory.csv")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("page_size", [7, 50, 100])
def test_dealercom_listing_pages_and_differs_from_homenet_as_announced(sandbox, page_size):
    items = listing(sandbox.url, page_size=page_size)
    vins = [i["vin"] for i in items]
    assert len(vins) == len(set(vins))
    truth = sandbox.admin.inventory_truth(DEALER)
    homenet = {r["VIN"]: r for r in homenet_rows(sandbox.url)}
    good = set(truth["homenet"]["good_vins"])
    assert set(truth["dealercom"]["missing"]) == good - set(vins)
    assert set(truth["dealercom"]["extra"]) == set(vins) - good
    assert truth["dealercom"]["missing"] and truth["dealercom"]["extra"]
    mismatched = {
        i["vin"]
        for i in items
        if i["vin"] in good
        and int(i["pricing"]["finalPrice"].strip("$").replace(",", ""))
        != int(homenet[i["vin"]]["SellingPrice"])
    }
    assert mismatched == set(truth["dealercom"]["price_mismatch"]) != set()
    assert all(i["pricing"]["msrp"].startswith("$") for i in items)
    assert all(i["link"] == f"{sandbox.url}/vdp/{DEALER}/{i['vin']}" for i in items)


def test_dealercom_bad_paging_is_400(sandbox):
    for params in ({"start": "-1"}, {"pageSize": "0"}, {"pageSize": "500"}, {"start": "x"}):
        response = httpx.get(f"{sandbox.url}/dealercom/{DEALER}/getInventory", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "bad_request"


def test_shortener_is_idempotent_redirects_and_refuses_bad_urls(sandbox):
    url = f"{sandbox.url}/vdp/{DEALER}/1HGCM82633A004352"
    first = (
        httpx.post(f"{sandbox.url}/shortener/shorten", headers=SHORTENER_KEY, json={"url": url})
        .raise_for_status()
        .json()
    )
    again = httpx.post(
        f"{sandbox.url}/shortener/shorten", headers=SHORTENER_KEY, json={"url": url}
    ).json()
    assert first == again
    assert first["short_url"] == f"{sandbox.url}/s/{first['code']}"
    hop = httpx.get(first["short_url"])
    assert hop.status_code == 302
    assert hop.headers["location"] == url
    assert httpx.get(f"{sandbox.url}/s/nope").status_code == 404
    for body in ({"url": "not a url"}, {"url": ""}, {}, ["x"]):
        bad = httpx.post(f"{sandbox.url}/shortener/shorten", headers=SHORTENER_KEY, json=body)
        assert bad.status_code == 400, body
        assert bad.json()["reason"].startswith("url")
    assert httpx.post(f"{sandbox.url}/shortener/shorten", json={"url": url}).status_code == 401
    assert sandbox.admin.vendor_counts("shortener")["requests"] == 7


def test_shortener_is_rate_limited(sandbox):
    sandbox.admin.set_limits(shortener={"per_minute": 60, "burst": 3})
    codes = [
        httpx.post(
            f"{sandbox.url}/shortener/shorten",
            headers=SHORTENER_KEY,
            json={"url": f"https://example.com/{n}"},
        ).status_code
        for n in range(6)
    ]
    assert codes[:3] == [200, 200, 200]
    assert 429 in codes[3:]


async def test_vdp_price_and_features_need_javascript(sandbox):
    vehicle = listing(sandbox.url)[0]
    raw = httpx.get(vehicle["link"])
    assert raw.status_code == 200
    assert vehicle["pricing"]["finalPrice"] not in raw.text
    assert "<li>" not in raw.text
    async with async_playwright() as p:
        browser = await p.chromium.launch(**get_settings().chromium_launch_options())
        page = await browser.new_page()
        await page.goto(vehicle["link"])
        await page.wait_for_selector("#features li")
        assert await page.text_content("#price") == vehicle["pricing"]["finalPrice"]
        assert await page.locator("#features li").count() >= 3
        await browser.close()
    counts = sandbox.admin.vendor_counts("vdp")
    assert counts["pages"] == 2


def test_vdp_of_an_unknown_or_rejected_vehicle_is_404(sandbox):
    truth = sandbox.admin.inventory_truth(DEALER)
    assert httpx.get(f"{sandbox.url}/vdp/{DEALER}/1HGCM82633A004352").status_code == 404
    missing = truth["dealercom"]["missing"][0]
    assert httpx.get(f"{sandbox.url}/vdp/{DEALER}/{missing}").status_code == 200
    assert httpx.get(f"{sandbox.url}/vdp/other-dealer/{missing}").status_code == 404


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP042788", "JH2RC3605MM101581", "1HGCM82633A004352"])
def test_check_digit_of_the_published_examples(vin):
    from sandbox.inventory import check_digit

    assert check_digit(vin) == vin[8]


@given(
    dealer=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20),
    index=st.integers(min_value=0, max_value=100_000),
)
def test_generated_vins_agree_with_multistore_vin(dealer, index):
    from sandbox.inventory import bad_kind, find_vehicle, vehicle

    today = date(2026, 11, 23)
    vin = vehicle(0, dealer, index, today)["VIN"]
    assert is_valid_vin(vin)
    found = find_vehicle(0, dealer, vin, index + 1, today)
    # A vehicle whose HomeNet row is bad has no detail page.
    assert (found and found["index"]) == (None if bad_kind(index) else index)
