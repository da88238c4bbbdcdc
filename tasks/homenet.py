"""HomeNet IOL: download a dealer's inventory feed (CSV)."""

from __future__ import annotations

import httpx
from prefect import task
from prefect.cache_policies import NONE

from blocks.inventory import InventorySources
from multistore.guarded import guarded_call
from tasks.pools import pool_slot

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@task(name="homenet-download", tags=["api:homenet"], cache_policy=NONE)
def download_homenet(source: InventorySources, store_id: str) -> str:
    """The dealer's feed as CSV text, through the `homenet` breaker and the retry policy."""
    url = f"{source.base_url.rstrip('/')}/homenet/{source.dealer_id}/inventory.csv"
    headers = {"X-API-Key": source.homenet_key.get_secret_value(), "X-Store-Id": store_id}

    def fetch() -> str:
        with pool_slot("api:homenet"):
            response = httpx.get(url, headers=headers, timeout=TIMEOUT)
        response.raise_for_status()
        return response.text

    return guarded_call(fetch, service="homenet", store=store_id)
