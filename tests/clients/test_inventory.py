"""The inventory clients against the sandbox (HomeNet, Dealer.com, vehicle pages in a real
Chromium, the shortener), breakers on a clock the tests move.

Plain (not async) tests: the clients are synchronous and run in worker threads in the pipeline,
and Playwright's sync API refuses a thread with a running event loop.
"""

from __future__ import annotations

import io

import httpx
import pandas as pd
import pytest

from blocks.inventory import InventorySources, ShortenerService
from multistore.breaker import CircuitOpenError, breaker
from multistore.calls import NO_POOLS
from multistore.clock import ManualClock
from multistore.inventory import reconcile, validate_homenet
from multistore.retry import ServiceError
from tests.fixtures.chromium import kill_browser

DEALER = "maple-motors"
# The breakers' clock is a test's: the cool-down passes when the test says so.
COOLDOWN = 60.0


@pytest.fixture
def pools():
    """No shared pools: one process (the pools across processes are the pipeline tests')."""
    return NO_POOLS


def download_homenet(source: InventorySources, store_id: str, clock=None) -> str:
    options = {"clock": clock} if clock else {}
    with source.get_client(store_id, pools=NO_POOLS, **options) as client:
        return client.feed()


def fetch_listing(source: InventorySources, store_id: str, *, page_size: int = 50, http=None):
    options = {"http": http} if http else {}
    with source.get_dealercom_client(store_id, pools=NO_POOLS, **options) as client:
        return client.listing(page_size=page_size)


def scrape_pages(urls: list[str], store_id: str) -> dict:
    source = InventorySources(base_url="http://unused", dealer_id=store_id, homenet_key="-")
    return source.get_vdp_client(store_id, pools=NO_POOLS).scrape(urls)


def shorten_urls(service: ShortenerService, urls: list[str], store_id: str) -> dict:
    with service.get_client(store_id, pools=NO_POOLS) as client:
        return client.shorten(urls)


@pytest.fixture
def source(sandbox) -> InventorySources:
    return InventorySources(
        base_url=sandbox.url, dealer_id=DEALER, homenet_key="sandbox-homenet-key"
    )


@pytest.fixture
def breakers(isolated_settings):
    """Short cool-downs, so recovery is observable in a test."""
    isolated_settings.mkdir(parents=True, exist_ok=True)
    (isolated_settings / "breakers.yaml").write_text(
        f"breakers:\n  default: {{threshold: 3, cooldown_seconds: {COOLDOWN}}}\n"
    )


def _vehicles(source: InventorySources):
    feed = pd.read_csv(
        io.StringIO(download_homenet(source, DEALER)), dtype=str, keep_default_na=False
    )
    return validate_homenet(feed, source="test")


def test_homenet_feed_rows_are_split_as_the_vendor_says(pools, source, sandbox):
    checked = _vehicles(source)
    truth = sandbox.admin.inventory_truth(DEALER)["homenet"]
    assert sorted(checked.vehicles["VIN"]) == sorted(truth["good_vins"])
    assert list(checked.rejects["row"]) == [r["row"] for r in truth["rejects"]]
    phrases = {
        "check_digit": "check digit",
        "forbidden_letter": "contains O",
        "price": "SellingPrice 'call'",
        "year": "Year '1850'",
        "missing_vin": "VIN is missing",
    }
    for reason, reject in zip(checked.rejects["reason"], truth["rejects"], strict=True):
        assert phrases[reject["defect"]] in reason


def test_dealercom_pages_and_reconciles_to_the_vendors_truth(pools, source, sandbox):
    listing = fetch_listing(source, DEALER, page_size=20)
    result = reconcile(_vehicles(source).vehicles, listing)
    truth = sandbox.admin.inventory_truth(DEALER)["dealercom"]
    issues = result.issues.groupby("issue")["vin"].apply(sorted).to_dict()
    assert issues["missing"] == sorted(truth["missing"])
    assert issues["extra"] == sorted(truth["extra"])
    assert issues["price_mismatch"] == sorted(truth["price_mismatch"])
    assert sandbox.admin.vendor_counts("dealercom")["requests"] == 3  # 50-odd items, 20 a page


def test_dealercom_pages_without_a_total_go_on_until_an_empty_page(pools):
    """A vendor page without pageInfo.totalCount does not end the listing after page 1.

    The sandbox always sends pageInfo, so the vendor's JSON comes from a mock transport here.
    """
    vehicles = [{"vin": f"VIN{n:03d}", "stockNumber": f"S{n}"} for n in range(5)]
    starts: list[int] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        size = int(request.url.params["pageSize"])
        starts.append(start)
        return httpx.Response(200, json={"inventory": vehicles[start : start + size]})

    source = InventorySources(
        base_url="http://vendor.invalid", dealer_id=DEALER, homenet_key="unused"
    )
    http = httpx.Client(transport=httpx.MockTransport(vendor))
    listing = fetch_listing(source, DEALER, page_size=2, http=http)
    assert [v["vin"] for v in listing] == [v["vin"] for v in vehicles]
    assert starts == [0, 2, 4, 5]  # three pages of items, then the empty page ends it


@pytest.mark.browser
def test_vdp_price_and_features_exist_only_after_javascript(pools, source, sandbox):
    vins = list(_vehicles(source).vehicles["VIN"][:3])
    urls = [f"{sandbox.url}/vdp/{DEALER}/{vin}" for vin in vins]
    raw = httpx.get(urls[0]).text
    scraped = scrape_pages([*urls, f"{sandbox.url}/vdp/{DEALER}/1HGCM82633A004352"], DEALER)
    pages = scraped["pages"]
    truth = {
        v["vin"]: v
        for v in (httpx.get(f"{sandbox.url}/vdp/api/{DEALER}/{vin}.json").json() for vin in vins)
    }
    for page, vin in zip(pages, vins, strict=False):
        assert page["error"] is None
        assert page["price"] == truth[vin]["price"] and page["price"].startswith("$")
        assert page["features"] == truth[vin]["features"] and page["features"]
    assert pages[0]["price"] not in raw
    assert all(feature not in raw for feature in pages[0]["features"])
    assert pages[3]["error"] == "HTTP 404"  # an unknown vehicle fails alone
    assert 0 < scraped["busy_seconds"] <= scraped["slot_seconds"]


def test_shortener_makes_one_link_per_url(pools, sandbox):
    service = ShortenerService(base_url=sandbox.url, api_key="sandbox-shortener-key")
    urls = [f"{sandbox.url}/vdp/{DEALER}/{n}" for n in range(3)]
    links = shorten_urls(service, urls, DEALER)
    assert set(links) == set(urls)
    followed = httpx.get(links[urls[1]]["short_url"], follow_redirects=False)
    assert followed.headers["location"] == urls[1]

    # Nothing new to shorten (a second store run reuses every link, tests/flows/
    # test_store_logic.py): no request reaches the shortener.
    requests = sandbox.admin.vendor_counts("shortener")["requests"]
    assert shorten_urls(service, [], DEALER) == {}
    assert sandbox.admin.vendor_counts("shortener")["requests"] == requests


def test_an_outage_opens_the_breaker_then_calls_fail_fast_and_recover(
    pools, source, sandbox, breakers
):
    """threshold 3: three stores' calls fail (each after its retries), the fourth fails fast:
    no request and no backoff waited."""
    clock = ManualClock()
    sandbox.admin.set_faults({"vendor": "homenet", "outage": True})
    dealers = ["oak-auto", "elm-cars", "ash-motors", "fir-trucks"]
    sources = {d: source.model_copy(update={"dealer_id": d}) for d in dealers}
    for dealer in dealers[:3]:
        with pytest.raises(ServiceError, match=f"homenet for store {dealer}: HTTP 503"):
            download_homenet(sources[dealer], dealer, clock)
    assert sandbox.admin.vendor_counts("homenet")["requests"] == 3 * 6  # six attempts each
    status = breaker("homenet").status()
    assert (status.state, status.failures) == ("open", 3)

    waited = len(clock.slept)
    with pytest.raises(CircuitOpenError) as info:
        download_homenet(sources["fir-trucks"], "fir-trucks", clock)
    assert str(info.value).startswith(
        "homenet for store fir-trucks: circuit open for homenet until "
    )
    assert "; last error: ServiceError: homenet for store ash-motors: HTTP 503" in str(info.value)
    assert len(clock.slept) == waited  # failed fast: not one backoff
    assert sandbox.admin.vendor_counts("homenet")["requests"] == 18  # no request made

    sandbox.admin.clear_faults()
    clock.advance(COOLDOWN - 1)
    with pytest.raises(CircuitOpenError):  # not yet
        download_homenet(sources["fir-trucks"], "fir-trucks", clock)
    clock.advance(1)
    assert "VIN" in download_homenet(sources["fir-trucks"], "fir-trucks", clock)  # the probe
    assert breaker("homenet").status().state == "closed"


def test_one_dealers_broken_feed_does_not_open_the_breaker_for_others(
    pools, source, sandbox, breakers
):
    sandbox.admin.set_faults({"vendor": "homenet", "store": DEALER, "outage": True})
    other = source.model_copy(update={"dealer_id": "oak-auto"})
    for _ in range(2):
        with pytest.raises(ServiceError):
            download_homenet(source, DEALER)
        assert "VIN" in download_homenet(other, "oak-auto")
    assert breaker("homenet").status().state == "closed"


def test_an_outage_shorter_than_the_threshold_is_retried_through(pools, source, sandbox, breakers):
    sandbox.admin.set_faults({"vendor": "homenet", "store": DEALER, "error_rate": 0.3})
    for _ in range(5):
        assert "VIN" in download_homenet(source, DEALER)
    counts = sandbox.admin.vendor_counts("homenet")
    assert counts["server_errors"] > 0 and counts["requests"] == 5 + counts["server_errors"]
    assert breaker("homenet").status().state == "closed"


def test_a_not_found_is_not_an_outage(pools, sandbox, breakers):
    wrong = InventorySources(base_url=sandbox.url, dealer_id=DEALER, homenet_key="wrong")
    for _ in range(4):
        with pytest.raises(ServiceError, match="homenet for store maple-motors: HTTP 401"):
            download_homenet(wrong, DEALER)
    assert breaker("homenet").status().state == "closed"


@pytest.mark.browser
def test_a_crashed_browser_is_replaced_and_is_not_the_sites_failure(
    source, sandbox, breakers
) -> None:
    """The page after a crash is read in a new browser; the `vdp` breaker counts nothing."""
    vins = list(_vehicles(source).vehicles["VIN"][:2])
    client = source.get_vdp_client(DEALER, pools=NO_POOLS)
    urls = client.urls(vins)
    with client.browser() as browser:
        first = client.read(browser, urls[0])
        kill_browser()
        second = client.read(browser, urls[1])
        assert browser.launches == 2
    assert first.error is None and second.error is None
    assert second.price and second.price.startswith("$")
    status = breaker("vdp").status()
    assert (status.state, status.failures) == ("closed", 0)
