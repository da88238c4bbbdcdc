"""The CRM's API (VinSolutions-shaped): an OAuth2 client-credentials token, paginated contacts.

The token is fetched on first use and renewed shortly before `expires_in` runs out (on the
injected clock), or at once when the CRM answers 401 anyway: an expired token is routine, so the
request is repeated once inside the same try. The token request runs under the contacts call's
breaker and retries (a guard of its own would count one failure twice and swallow the probe).
The `api:crm` slot is held for the whole listing (`hold="session"`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from multistore.calls import json_body, require
from multistore.clients.base import HttpClient
from multistore.pools import API_CRM

# A server whose `next` never ends (a repeating link, a bug) must not keep a worker for ever.
MAX_PAGES = 10_000
# Renew this long before the token's stated expiry, so no request carries a token about to lapse.
TOKEN_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class CRMApiConfig:
    base_url: str
    dealer_id: str
    client_id: str
    client_secret: SecretStr
    api_key: SecretStr
    page_size: int = 100


class CRMApi(HttpClient):
    service = "crm"
    pool = API_CRM
    hold = "session"

    def __init__(self, config: CRMApiConfig, **options: Any) -> None:
        super().__init__(**options)
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self.tokens_fetched = 0

    def contacts(self) -> list[dict[str, Any]]:
        """Every contact of the dealer, following the `next` links."""
        url: str | None = f"{self.base_url}/dealers/{self.config.dealer_id}/contacts"
        params: dict[str, Any] | None = {"page": 1, "pageSize": self.config.page_size}
        contacts: list[dict[str, Any]] = []
        pages = 0
        with self.caller.session():
            while url:
                if pages >= MAX_PAGES:
                    raise RuntimeError(
                        f"{self.service} for store {self.store_id}: more than {MAX_PAGES} "
                        f"pages of contacts, stopped before {url}"
                    )
                items, url = self.caller.call(lambda u=url, p=params: self._page(u, p))
                pages += 1
                contacts.extend(items)
                params = None  # `next` is absolute and carries its query
                if url and not self._on_base(url):
                    # The token and api_key go with every request: never to a host the CRM names.
                    raise ValueError(
                        f"{self.service} for store {self.store_id}: refusing 'next' {url!r} "
                        f"outside {self.base_url}"
                    )
        return contacts

    def _page(self, url: str, params: dict[str, Any] | None) -> tuple[list, str | None]:
        response = self.http.get(url, params=params, headers=self._headers())
        if response.status_code == 401:
            self._token = None
            response = self.http.get(url, params=params, headers=self._headers())
        body = json_body(response)
        items = require(body, "items", list, response)
        following = body.get("next")
        if following is not None and not isinstance(following, str):
            following = require(body, "next", str, response)
        return items, following

    def _on_base(self, url: str) -> bool:
        """True when `url` is the base URL or below it (not merely a longer host name)."""
        return url == self.base_url or url.startswith((f"{self.base_url}/", f"{self.base_url}?"))

    def _headers(self) -> dict[str, str]:
        expired = self._token_expires is not None and self.clock.now() >= self._token_expires
        if self._token is None or expired:
            self._token = self._fetch_token()
        return {
            "Authorization": f"Bearer {self._token}",
            "api_key": self.config.api_key.get_secret_value(),
            "Accept": "application/json",
        }

    def _fetch_token(self) -> str:
        config = self.config
        response = self.http.post(
            f"{self.base_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": config.client_id,
                "client_secret": config.client_secret.get_secret_value(),
            },
        )
        body = json_body(response)
        token = require(body, "access_token", str, response)
        lifetime = body.get("expires_in")
        self._token_expires = (
            self.clock.now() + timedelta(seconds=float(lifetime)) - TOKEN_MARGIN
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool)
            else None
        )
        self.tokens_fetched += 1
        return token
