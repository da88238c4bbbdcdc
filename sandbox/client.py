"""`SandboxAdmin`: the admin endpoints for tests and benchmarks, over plain HTTP."""

from __future__ import annotations

from typing import Any

import httpx

# The names the server counts under: the same tuple, so a vendor that saw nothing has every key.
from sandbox.counters import COUNTS
from sandbox.server import KEEPALIVE_SECONDS


class SandboxAdmin:
    """Counters, faults, limits, reset and ground truth of a running sandbox."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        # An idle connection is dropped after half the sandbox's keep-alive (sandbox/server.py),
        # before the server ends it: reusing one the server is closing meets a reset (seen under
        # load, as httpx.ReadError in the middle of a test).
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS / 2),
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def counters(self, *, detail: bool = False) -> dict[str, Any]:
        return self._call("GET", "/admin/counters", params={"detail": int(detail)})

    def vendor_counts(self, vendor: str) -> dict[str, int]:
        """One vendor's totals (zeros when it saw nothing)."""
        counts = self.counters()["vendors"].get(vendor)
        return counts or dict.fromkeys(COUNTS, 0)

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock `seconds` ahead: tokens expire, timed faults end."""
        self._call("POST", "/admin/clock/advance", json={"seconds": seconds})

    def reset_counters(self) -> None:
        self._call("POST", "/admin/counters/reset")

    def rate(self) -> dict[str, Any]:
        return self._call("GET", "/admin/rate")

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/admin/faults")

    def set_faults(self, faults: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
        return self._call("PUT", "/admin/faults", json=faults)

    def clear_faults(self) -> None:
        self._call("DELETE", "/admin/faults")

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/admin/config")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change seed, stores, contacts_per_store, vehicles_per_store or token_ttl_seconds until
        the next reset: `configure(contacts_per_store=5000)`."""
        return self._call("PUT", "/admin/config", json=changes)

    def limits(self) -> dict[str, Any]:
        return self._call("GET", "/admin/limits")

    def set_limits(
        self, limits: dict[str, dict[str, float] | None] | None = None, **by_vendor: Any
    ) -> dict[str, Any]:
        """`set_limits({"dnc": {"per_minute": 60, "burst": 5}})` or `set_limits(dnc={...})`."""
        return self._call("PUT", "/admin/limits", json={**(limits or {}), **by_vendor})

    def crm_flags(self, dealer: str) -> dict[str, bool]:
        return self._call("GET", f"/admin/crm/{dealer}/flags")

    def crm_contacts(self, dealer: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/admin/crm/{dealer}/contacts")

    def inventory_truth(self, dealer: str) -> dict[str, Any]:
        """HomeNet's bad rows and how Dealer.com differs, for `dealer`."""
        return self._call("GET", f"/admin/inventory/{dealer}")

    def channels_truth(self, store: str) -> dict[str, Any]:
        """On hand, what each sales channel shows, writes per channel and sales."""
        return self._call("GET", f"/admin/channels/{store}")

    def sell(
        self,
        store: str,
        channel: str,
        sku: str,
        quantity: int = 1,
        *,
        past_zero: bool = False,
        order_id: str | None = None,
    ) -> dict[str, Any]:
        """A customer buys on `channel` (refused beyond what it shows, unless the channel sells
        `past_zero`); with `order_id`, the channel lists it among its orders."""
        body = {
            "channel": channel,
            "sku": sku,
            "quantity": quantity,
            "past_zero": past_zero,
            "order_id": order_id,
        }
        return self._call("POST", f"/admin/channels/{store}/sell", json=body)

    def edit_listing(self, store: str, channel: str, sku: str, **fields: Any) -> dict[str, Any]:
        """Someone changes `price` or `title` of a product on one channel only."""
        body = {"channel": channel, "sku": sku, **fields}
        return self._call("POST", f"/admin/channels/{store}/edit", json=body)

    def sell_on_next_write(
        self, store: str, channel: str, sku: str, quantity: int = 1, *, on: str
    ) -> dict[str, Any]:
        """Queue a sale on `channel` for when channel `on`'s next write arrives (before it is
        applied): a sale between a sync's read and its write, without sleeping for it."""
        body = {"channel": channel, "sku": sku, "quantity": quantity, "on": on}
        return self._call("POST", f"/admin/channels/{store}/sell-on-next-write", json=body)

    def short_links(self) -> dict[str, str]:
        return self._call("GET", "/admin/shortener/links")

    def stores(self) -> list[str]:
        return self._call("GET", "/admin/stores")

    def reset(self) -> None:
        """Faults, counters, limits and every change clients made, back to a fresh start."""
        self._call("POST", "/admin/reset")

    def close(self) -> None:
        self._http.close()
