"""The CRM's API (VinSolutions-shaped): an OAuth2 client-credentials token, paginated contacts.

Every call passes the `crm` circuit breaker and the retry policy (5xx, 429, timeouts). A 401 means
the token expired: the client fetches a new one and repeats the call once, outside the policy (an
expired token is routine, not a failure).
"""

from __future__ import annotations

from typing import Any

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from blocks.crm import CRMCredentials
from multistore.guarded import guarded_call
from tasks.pools import pool_slot

SERVICE = "crm"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# A server whose `next` never ends (a repeating link, a bug) must not keep a worker for ever.
MAX_PAGES = 10_000


class CRMClient:
    """The API of one dealer's CRM, with a token fetched on first use and renewed on 401."""

    def __init__(
        self, credentials: CRMCredentials, *, store_id: str, http: httpx.Client | None = None
    ) -> None:
        self.credentials = credentials
        self.store_id = store_id
        self.base_url = credentials.base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=TIMEOUT)
        self._token: str | None = None
        self.tokens_fetched = 0

    def close(self) -> None:
        self.http.close()

    def contacts(self) -> list[dict[str, Any]]:
        """Every contact of the dealer, following the `next` links."""
        dealer = self.credentials.dealer_id
        page_size = self.credentials.page_size
        url: str | None = f"{self.base_url}/dealers/{dealer}/contacts"
        params: dict[str, Any] | None = {"page": 1, "pageSize": page_size}
        contacts: list[dict[str, Any]] = []
        pages = 0
        while url:
            if pages >= MAX_PAGES:
                raise RuntimeError(
                    f"{SERVICE} for store {self.store_id}: more than {MAX_PAGES} pages "
                    f"of contacts, stopped before {url}"
                )
            body = self._get(url, params)
            pages += 1
            items = body.get("items")
            if not isinstance(items, list):
                raise ValueError(f"{SERVICE} for store {self.store_id}: {url}: no 'items' list")
            contacts.extend(items)
            url, params = body.get("next"), None  # `next` is absolute and carries its query
            if url and not self._on_base(url):
                # The token and api_key go with every request: never to a host the CRM names.
                raise ValueError(
                    f"{SERVICE} for store {self.store_id}: refusing 'next' {url!r} "
                    f"outside {self.base_url}"
                )
        return contacts

    def _on_base(self, url: str) -> bool:
        """True when `url` is the base URL or below it (not merely a longer host name)."""
        return url == self.base_url or url.startswith((f"{self.base_url}/", f"{self.base_url}?"))

    def _get(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = self.http.get(url, params=params, headers=self._headers())
            if response.status_code == 401:
                self._token = None
                response = self.http.get(url, params=params, headers=self._headers())
            response.raise_for_status()
            return response.json()

        return guarded_call(attempt, service=SERVICE, store=self.store_id)

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._fetch_token()
        return {
            "Authorization": f"Bearer {self._token}",
            "api_key": self.credentials.api_key.get_secret_value(),
            "Accept": "application/json",
        }

    def _fetch_token(self) -> str:
        # Called only from inside `_get`'s attempt: its breaker and retries cover this request
        # too (a guard of its own here would count one failure twice and swallow the probe).
        creds = self.credentials
        response = self.http.post(
            f"{self.base_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret.get_secret_value(),
            },
        )
        response.raise_for_status()
        self.tokens_fetched += 1
        return response.json()["access_token"]


@task(name="crm-contacts", tags=["api:crm"], cache_policy=NONE)
def fetch_contacts(store_id: str, block_name: str) -> list[dict[str, Any]]:
    """All contacts of the store's dealer, as the CRM returns them."""
    client = CRMClient(CRMCredentials.load(block_name, _sync=True), store_id=store_id)
    try:
        with pool_slot("api:crm"):
            contacts = client.contacts()
    finally:
        client.close()
    get_run_logger().info("store %s: %d contacts from the CRM", store_id, len(contacts))
    return contacts
