"""The URL shortener: one short link per URL, within the `api:shortener` rate limit."""

from __future__ import annotations

import httpx
from prefect import task
from prefect.cache_policies import NONE

from blocks.inventory import ShortenerService
from multistore.guarded import guarded_call
from tasks.pools import pool_slot, throttle

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class IncompleteShortening(Exception):
    """A URL could not be shortened; `links` are those made before it (they exist at the vendor
    and must be kept, or the next run would pay for them again)."""

    def __init__(self, links: dict[str, dict], cause: Exception) -> None:
        super().__init__(f"{cause} ({len(links)} links made before it were kept)")
        self.links = links


@task(name="shorten-urls", tags=["api:shortener"], cache_policy=NONE)
def shorten_urls(service: ShortenerService, urls: list[str], store_id: str) -> dict[str, dict]:
    """`{url: {"short_url", "code"}}` for every URL; each request waits for the rate limit and
    passes the `shortener` breaker (429s wait Retry-After and are tried again)."""
    endpoint = f"{service.base_url.rstrip('/')}/shortener/shorten"
    headers = {"X-API-Key": service.api_key.get_secret_value(), "X-Store-Id": store_id}
    links: dict[str, dict] = {}
    if not urls:
        return links
    with httpx.Client(timeout=TIMEOUT, headers=headers) as client, pool_slot("api:shortener"):
        for url in urls:

            def post(url: str = url) -> dict:
                throttle("api:shortener")
                response = client.post(endpoint, json={"url": url})
                response.raise_for_status()
                return response.json()

            try:
                body = guarded_call(post, service="shortener", store=store_id)
            except Exception as exc:
                raise IncompleteShortening(links, exc) from exc
            links[url] = {"short_url": body["short_url"], "code": body["code"]}
    return links
