"""The one mutable thing in a sandbox: counters, faults, rate limiters, and what clients changed
(CRM flags, tokens, UI sessions, short links). Generated data lives in `sandbox.data`."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from sandbox import credentials
from sandbox.config import SandboxConfig
from sandbox.counters import Counters
from sandbox.errors import VendorError
from sandbox.faults import FaultBook
from sandbox.ratelimit import TokenBucket

# Any request that does not name a store is counted under this one.
NO_STORE = "_shared"
# Vendors whose rate limit is per shop (store), not per account: each store has its own bucket.
PER_SHOP = frozenset({"shopify"})
# What `PUT /admin/config` may change at run time.
CONFIGURABLE = frozenset(
    {
        "seed",
        "stores",
        "contacts_per_store",
        "vehicles_per_store",
        "products_per_store",
        "token_ttl_seconds",
    }
)


@dataclass
class SandboxState:
    config: SandboxConfig
    counters: Counters = field(default_factory=Counters)
    # (dealer, ContactId) → DoNotCall as last saved through the web UI.
    crm_flags: dict[tuple[str, str], bool] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # access token → expiry (monotonic)
    ui_sessions: dict[str, str] = field(default_factory=dict)  # cookie → dealer
    short_links: dict[str, str] = field(default_factory=dict)  # code → url
    # Sales channels (sandbox.channels): (vendor, store) → what clients wrote, and sales.
    channels: dict[str, Any] = field(default_factory=dict)
    stopping: asyncio.Event | None = None

    def __post_init__(self) -> None:
        # What `reset()` returns to; `configure()` changes only the current copy.
        self.base_config = self.config
        self.config = self.base_config.model_copy()
        # How far tests moved the sandbox's clock ahead (token expiry, faults that end by
        # themselves), so that no test waits for them on the real clock.
        self.skew = 0.0
        self.faults = FaultBook(self.config.seed, self.config.faults, clock=self.wall)
        self.buckets: dict[str, TokenBucket] = {}
        self.shop_buckets: dict[tuple[str, str], TokenBucket] = {}
        self.set_limits({k: v.model_dump() for k, v in self.config.limits.items()})

    def reset(self) -> None:
        """Back to a just-started sandbox."""
        self.config = self.base_config.model_copy()
        self.counters.reset()
        self.crm_flags.clear()
        self.tokens.clear()
        self.ui_sessions.clear()
        self.short_links.clear()
        self.channels.clear()
        self.skew = 0.0
        self.faults = FaultBook(self.config.seed, self.config.faults, clock=self.wall)
        self.buckets.clear()
        self.shop_buckets.clear()
        self.set_limits({k: v.model_dump() for k, v in self.config.limits.items()})

    def configure(self, changes: dict[str, Any]) -> SandboxConfig:
        """Change sizes, seed or token lifetime until the next reset; bad values raise ValueError
        naming the field, leaving the config as it was."""
        unknown = set(changes) - CONFIGURABLE
        if unknown:
            raise ValueError(
                f"{sorted(unknown)[0]}: not configurable; one of {sorted(CONFIGURABLE)}"
            )
        try:
            config = SandboxConfig.model_validate({**self.config.model_dump(), **changes})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        self.config = config
        self.faults.seed = config.seed
        return config

    def set_limits(self, limits: dict[str, dict | None]) -> None:
        """Replace the bucket of each named vendor; None removes its limit."""
        for vendor, spec in limits.items():
            for key in [k for k in self.shop_buckets if k[0] == vendor]:
                del self.shop_buckets[key]
            if spec is None:
                self.buckets.pop(vendor, None)
            else:
                self.buckets[vendor] = TokenBucket(
                    per_minute=float(spec["per_minute"]), burst=int(spec["burst"])
                )

    def bucket(self, vendor: str, store: str) -> TokenBucket | None:
        """The bucket a call of `vendor` for `store` spends: the vendor's own, or for a vendor
        that limits each shop (PER_SHOP: Shopify's bucket is per shop) one per store with the
        vendor's figures."""
        limit = self.buckets.get(vendor)
        if limit is None or vendor not in PER_SHOP:
            return limit
        key = (vendor, store)
        if key not in self.shop_buckets:
            self.shop_buckets[key] = TokenBucket(per_minute=limit.rate * 60, burst=limit.burst)
        return self.shop_buckets[key]

    def limits(self) -> dict[str, dict[str, float]]:
        return {v: {"per_minute": b.rate * 60, "burst": b.burst} for v, b in self.buckets.items()}

    def monotonic(self) -> float:
        return time.monotonic() + self.skew

    def wall(self) -> float:
        return time.time() + self.skew

    def advance_clock(self, seconds: float) -> None:
        self.skew += seconds

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self.monotonic() + self.config.token_ttl_seconds
        return token

    def token_valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        if expiry is None:
            return False
        if self.monotonic() >= expiry:
            del self.tokens[token]
            return False
        return True

    async def gate(
        self,
        request: Request,
        vendor: str,
        store: str | None = None,
        *,
        page: bool = False,
    ) -> None:
        """Count the call, apply this vendor's and store's faults, then its rate limit.

        Raises VendorError for a 429/5xx answer; returns when the handler may answer normally.
        """
        store = store or NO_STORE
        count = self.counters.count
        count(vendor, store, "requests")
        faults = self.faults.matching(vendor, store)
        number = self.faults.next_number(vendor, store)
        for fault in faults:
            if fault.latency_ms:
                count(vendor, store, "delayed")
                await asyncio.sleep(fault.latency_ms / 1000)
        for fault in faults:
            if fault.outage:
                count(vendor, store, "server_errors")
                raise VendorError(503, "service_unavailable", f"{vendor} is down (outage)")
            if self.faults.hit(fault.rate_limit_storm, vendor, store, number, "storm"):
                count(vendor, store, "rate_limited")
                raise VendorError(
                    429,
                    "rate_limited",
                    "too many requests",
                    {"Retry-After": str(fault.retry_after)},
                )
            if self.faults.hit(fault.error_rate, vendor, store, number, "error"):
                count(vendor, store, "server_errors")
                status = (500, 502, 503)[number % 3]
                raise VendorError(status, "server_error", f"{vendor} failed (injected)")
            if self.faults.hit(fault.hang_rate, vendor, store, number, "hang"):
                count(vendor, store, "hangs")
                await self._hang(request)
        bucket = self.bucket(vendor, store)
        if bucket is not None:
            wait = bucket.take()
            if wait:
                count(vendor, store, "rate_limited")
                count(vendor, store, "over_limit")  # the vendor's own limit, not a storm
                raise VendorError(
                    429,
                    "rate_limited",
                    f"{vendor} allows {bucket.rate * 60:g} calls per minute, burst {bucket.burst}",
                    {"Retry-After": str(wait)},
                )
        self.counters.accepted(vendor, store)
        if page:
            count(vendor, store, "pages")

    async def _hang(self, request: Request) -> None:
        """Never answer; give up when the client leaves or the server stops."""
        while not await request.is_disconnected():
            if self.stopping is not None and self.stopping.is_set():
                break
            await asyncio.sleep(0.2)
        raise VendorError(504, "timeout", "the request hung (injected)")

    def store_from_login(self, username: str) -> str | None:
        suffix = credentials.CRM_UI_USER_SUFFIX
        return username.removesuffix(suffix) if username.endswith(suffix) else None

    def login(self, dealer: str) -> str:
        cookie = secrets.token_urlsafe(24)
        self.ui_sessions[cookie] = dealer
        return cookie
