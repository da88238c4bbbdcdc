"""The sandbox's sales channels: Shopify's bucket is per shop, as Shopify's is."""

from __future__ import annotations

import httpx

from sandbox import credentials


def test_shopify_limits_each_shop_on_its_own_bucket(sandbox) -> None:  # type: ignore[no-untyped-def]
    # A bucket that does not refill within the test: 3 calls per shop, then 429.
    sandbox.admin.set_limits(shopify={"per_minute": 0.01, "burst": 3})
    headers = {"X-Shopify-Access-Token": credentials.CHANNEL_TOKEN}

    def levels(store: str) -> httpx.Response:
        path = f"/shopify/{store}/admin/api/2026-04/inventory_levels.json"
        return httpx.get(f"{sandbox.url}{path}", params={"limit": 5}, headers=headers)

    first = [levels("store-0001") for _ in range(3)]
    assert [r.status_code for r in first] == [200, 200, 200]
    assert first[-1].headers["x-shopify-shop-api-call-limit"] == "3/3"
    assert levels("store-0001").status_code == 429
    # Another shop's calls spend its own bucket, untouched by the first shop's.
    other = levels("store-0002")
    assert other.status_code == 200
    assert other.headers["x-shopify-shop-api-call-limit"] == "1/3"
