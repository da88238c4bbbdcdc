"""Dealer.com: page through a dealer's inventory listing."""

from __future__ import annotations

from typing import Any

import httpx
from prefect import task
from prefect.cache_policies import NONE

from blocks.inventory import InventorySources
from multistore.guarded import guarded_call
from tasks.pools import pool_slot, throttle

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE_SIZE = 50
# A listing that claims more pages than this is broken, not big.
MAX_PAGES = 1000


def _client(store_id: str) -> httpx.Client:
    """The HTTP client of one listing (a test may swap in one with a mock transport)."""
    return httpx.Client(timeout=TIMEOUT, headers={"X-Store-Id": store_id})


@task(name="dealercom-listing", tags=["api:dealercom"], cache_policy=NONE)
def fetch_listing(
    source: InventorySources, store_id: str, *, page_size: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """Every item of the dealer's listing, page by page (`start` advancing by `page_size`).

    Each page waits for the `api:dealercom` rate limit and passes the `dealercom` breaker.
    """
    url = f"{source.base_url.rstrip('/')}/dealercom/{source.dealer_id}/getInventory"
    items: list[dict[str, Any]] = []
    with (
        _client(store_id) as client,
        pool_slot("api:dealercom"),
    ):
        for _ in range(MAX_PAGES):
            start = len(items)

            def fetch(start: int = start) -> dict[str, Any]:
                throttle("api:dealercom")
                response = client.get(url, params={"start": start, "pageSize": page_size})
                response.raise_for_status()
                return response.json()

            body = guarded_call(fetch, service="dealercom", store=store_id)
            page = body.get("inventory") or []
            # A page without pageInfo.totalCount says nothing about the end: go on until a
            # page comes back empty, not stop after it (which would drop the rest silently).
            total = (body.get("pageInfo") or {}).get("totalCount")
            items.extend(page)
            if not page or (total is not None and len(items) >= int(total)):
                return items
    raise RuntimeError(
        f"dealercom for store {store_id}: listing did not end after {MAX_PAGES} pages"
    )
