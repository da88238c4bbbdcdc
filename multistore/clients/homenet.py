"""HomeNet IOL: a dealer's inventory feed (CSV), one request, a slot of `api:homenet` per call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from multistore.clients.base import HttpClient
from multistore.pools import API_HOMENET


@dataclass(frozen=True)
class FeedConfig:
    """Where a dealer's HomeNet and Dealer.com inventory lives (one block holds both)."""

    base_url: str
    dealer_id: str
    homenet_key: SecretStr


class HomeNetClient(HttpClient):
    service = "homenet"
    pool = API_HOMENET
    timeout = httpx.Timeout(30.0, connect=5.0)

    def __init__(self, config: FeedConfig, **options: Any) -> None:
        super().__init__(**options)
        self.config = config

    def feed(self) -> str:
        """The dealer's feed as CSV text."""
        url = f"{self.config.base_url.rstrip('/')}/homenet/{self.config.dealer_id}/inventory.csv"
        headers = {
            "X-API-Key": self.config.homenet_key.get_secret_value(),
            "X-Store-Id": self.store_id,
        }

        def fetch() -> str:
            response = self.http.get(url, headers=headers)
            response.raise_for_status()
            return response.text

        return self.caller.call(fetch)
