"""The inventory tasks: HomeNet feed, Dealer.com listing, vehicle pages, short links."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from multistore.clients.dealercom import PAGE_SIZE, DealercomClient
from multistore.clients.homenet import HomeNetClient
from multistore.clients.shortener import ShortenerClient
from multistore.clients.vdp import VehiclePages


@task(name="homenet-download", cache_policy=NONE)
def download_homenet(client: HomeNetClient) -> str:
    """The dealer's feed as CSV text."""
    with client:
        return client.feed()


@task(name="dealercom-listing", cache_policy=NONE)
def fetch_listing(client: DealercomClient, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Every item of the dealer's Dealer.com listing."""
    with client:
        return client.listing(page_size=page_size)


@task(name="vdp-scrape", cache_policy=NONE)
def scrape_pages(client: VehiclePages, urls: list[str]) -> dict[str, Any]:
    """Every vehicle page's rendered price and features, and the browser slot's timing."""
    return client.scrape(urls)


@task(name="shorten-urls", cache_policy=NONE)
def shorten_urls(client: ShortenerClient, urls: list[str]) -> dict[str, dict]:
    """`{url: {"short_url", "code"}}` for every URL (IncompleteShortening keeps what was made)."""
    with client:
        return client.shorten(urls)
