"""The Prefect server over plain HTTP, for the Prefect-free core (health, metrics, logs).

multistore/ never imports Prefect; what it needs from the server (is it up, the concurrency
limits, log records) is a few documented REST calls. `PREFECT_API_URL` says where the server is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from multistore.settings import get_settings

TIMEOUT = httpx.Timeout(5.0)

# Where Prefect's server keeps the leases of concurrency slots when nobody says otherwise: in its
# own memory, so a server restart forgets every lease while their slots stay counted as held.
MEMORY_LEASE_STORAGE = "prefect.server.concurrency.lease_storage.memory"


class PrefectUnavailable(RuntimeError):
    """The Prefect server cannot be reached or answered with an error; the message names it."""


@dataclass(frozen=True)
class PoolUsage:
    name: str
    limit: int
    active_slots: int


class PrefectAPI:
    """A few calls to the Prefect server at `url` (default: PREFECT_API_URL)."""

    def __init__(self, url: str | None = None, *, http: httpx.Client | None = None) -> None:
        self.url = (url if url is not None else get_settings().prefect_api_url).rstrip("/")
        self._http = http

    def check(self) -> None:
        """Raise PrefectUnavailable (one line) unless the server answers its health check."""
        self._request("GET", "/health")

    def lease_storage(self) -> str | None:
        """The module the server keeps slot leases in (its `server.concurrency.lease_storage`
        setting, read from `/admin/settings`), or None when the server does not say."""
        try:
            settings = self._request("GET", "/admin/settings")
        except PrefectUnavailable:
            return None  # e.g. a server without the admin routes; check() names a real outage
        try:
            value = settings["server"]["concurrency"]["lease_storage"]
        except (KeyError, TypeError):
            return None
        return value if isinstance(value, str) else None

    def pools(self) -> list[PoolUsage]:
        """Every global concurrency limit (the pools), with its slots in use."""
        rows = self._request("POST", "/v2/concurrency_limits/filter", json={"limit": 200})
        return [
            PoolUsage(row["name"], int(row["limit"]), int(row.get("active_slots") or 0))
            for row in rows
            if not row["name"].startswith("deployment:")  # Prefect's own, not a pool
        ]

    def logs(
        self, flow_run_ids: list[str], *, since: datetime | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Log records of these flow runs (from `since`), the newest `limit`, oldest first."""
        logs: dict[str, Any] = {"flow_run_id": {"any_": flow_run_ids}}
        if since is not None:
            logs["timestamp"] = {"after_": since.isoformat()}
        body = {"logs": logs, "sort": "TIMESTAMP_DESC", "limit": limit}
        return list(reversed(self._request("POST", "/logs/filter", json=body)))

    def send_events(self, events: list[dict[str, Any]]) -> None:
        """Record events (Prefect's event schema) on the server."""
        self._request("POST", "/events", json=events, timeout=2.0)

    def block_document(self, block_type_slug: str, name: str) -> dict[str, Any]:
        """A block document's fields, secrets included (for the service's webhook checks)."""
        path = f"/block_types/slug/{block_type_slug}/block_documents/name/{name}"
        return self._request("GET", path, params={"include_secrets": "true"}).get("data") or {}

    def block_documents(self, block_type_slug: str, *, page: int = 200) -> list[dict[str, Any]]:
        """Every block document of a type, secrets left out (the server sends them masked):
        name and non-secret fields, such as a vendor's base URL."""
        found: list[dict[str, Any]] = []
        while True:
            body = {
                "block_types": {"slug": {"any_": [block_type_slug]}},
                "include_secrets": False,
                "limit": page,
                "offset": len(found),
            }
            rows = self._request("POST", "/block_documents/filter", json=body)
            found += [{"name": row["name"], "data": row.get("data") or {}} for row in rows]
            if len(rows) < page:
                return found

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if not self.url:
            raise PrefectUnavailable("Prefect server: PREFECT_API_URL is not set")
        try:
            if self._http is not None:
                response = self._http.request(method, self.url + path, **kwargs)
            else:
                with httpx.Client(timeout=TIMEOUT) as http:
                    response = http.request(method, self.url + path, **kwargs)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise PrefectUnavailable(
                f"Prefect server {self.url}: HTTP {status} on {method} {path}"
            ) from None
        except httpx.HTTPError as exc:
            reason = " ".join(str(exc).split()) or "no answer"
            raise PrefectUnavailable(
                f"Prefect server {self.url} is not reachable: {type(exc).__name__}: {reason}"
            ) from None
        return response.json() if response.content else None
