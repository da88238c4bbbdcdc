"""The URL shortener: one short link per URL, the `api:shortener` slot held for the session and
each try within `rate:api:shortener`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from multistore.calls import json_body, require
from multistore.clients.base import HttpClient
from multistore.pools import API_SHORTENER


@dataclass(frozen=True)
class ShortenerConfig:
    base_url: str
    api_key: SecretStr


class IncompleteShortening(Exception):
    """A URL could not be shortened; `links` are those made before it (they exist at the vendor
    and must be kept, or the next run would pay for them again)."""

    def __init__(self, links: dict[str, dict], cause: Exception) -> None:
        super().__init__(f"{cause} ({len(links)} links made before it were kept)")
        self.links = links


class ShortenerClient(HttpClient):
    service = "shortener"
    pool = API_SHORTENER
    rate = True
    hold = "session"
    timeout = httpx.Timeout(15.0, connect=5.0)

    def __init__(self, config: ShortenerConfig, **options: Any) -> None:
        super().__init__(**options)
        self.config = config

    def shorten(self, urls: list[str]) -> dict[str, dict]:
        """`{url: {"short_url", "code"}}` for every URL; IncompleteShortening keeps the links
        made before a URL that failed."""
        endpoint = f"{self.config.base_url.rstrip('/')}/shortener/shorten"
        headers = {
            "X-API-Key": self.config.api_key.get_secret_value(),
            "X-Store-Id": self.store_id,
        }
        links: dict[str, dict] = {}
        if not urls:
            return links

        def post(url: str) -> dict:
            response = self.http.post(endpoint, json={"url": url}, headers=headers)
            body = json_body(response)
            return {
                "short_url": require(body, "short_url", str, response),
                "code": require(body, "code", str, response),
            }

        with self.caller.session():
            for url in urls:
                try:
                    links[url] = self.caller.call(lambda u=url: post(u))
                except Exception as exc:
                    raise IncompleteShortening(links, exc) from exc
        return links
