"""Dealer.com: page through a dealer's inventory listing (`start` advancing by `page_size`).

The `api:dealercom` slot is held for the whole listing (`hold="session"`); each page's tries
wait for `rate:api:dealercom`.
"""

from __future__ import annotations

from typing import Any

import httpx

from multistore.calls import json_body, require
from multistore.clients.base import HttpClient
from multistore.clients.homenet import FeedConfig
from multistore.pools import API_DEALERCOM

PAGE_SIZE = 50
# A listing that claims more pages than this is broken, not big.
MAX_PAGES = 1000


class DealercomClient(HttpClient):
    service = "dealercom"
    pool = API_DEALERCOM
    rate = True
    hold = "session"
    timeout = httpx.Timeout(30.0, connect=5.0)

    def __init__(self, config: FeedConfig, **options: Any) -> None:
        super().__init__(**options)
        self.config = config

    def listing(self, *, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """Every item of the dealer's listing, page by page."""
        base = self.config.base_url.rstrip("/")
        url = f"{base}/dealercom/{self.config.dealer_id}/getInventory"
        items: list[dict[str, Any]] = []

        def fetch(start: int) -> tuple[list, Any]:
            response = self.http.get(
                url,
                params={"start": start, "pageSize": page_size},
                headers={"X-Store-Id": self.store_id},
            )
            body = json_body(response)
            page = body.get("inventory") or [] if isinstance(body, dict) else None
            if not isinstance(page, list):
                require(body, "inventory", list, response)  # raises: a MALFORMED answer
            info = body.get("pageInfo")
            return page, info.get("totalCount") if isinstance(info, dict) else None

        with self.caller.session():
            for _ in range(MAX_PAGES):
                page, total = self.caller.call(lambda s=len(items): fetch(s))
                # A page without pageInfo.totalCount says nothing about the end: go on until a
                # page comes back empty, not stop after it (which would drop the rest silently).
                items.extend(page)
                if not page or (total is not None and len(items) >= int(total)):
                    return items
        raise RuntimeError(
            f"{self.service} for store {self.store_id}: listing did not end after {MAX_PAGES} pages"
        )
