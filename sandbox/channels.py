"""What the sales-channel vendors share: each store's catalogue (deterministic from seed and store
id), the store's inventory system (on hand, moved by sales), and what clients wrote to each
channel. Kept in `SandboxState.channels`; ground truth at `/admin/channels/...`.

Before anything is written, a channel shows the quantity it had "yesterday": a seeded number near
on hand / 5, so a first sync has real work to do and a second, with nothing changed, has none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from sandbox.errors import bad_request
from sandbox.state import SandboxState

VENDORS = ("shopify", "square", "ebay", "amazon", "custom")


def _rng(seed: int, *parts: str) -> np.random.Generator:
    digest = hashlib.blake2b("|".join([str(seed), *parts]).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


@dataclass
class Catalogue:
    skus: list[str]
    on_hand: dict[str, int]
    price: dict[str, float]
    title: dict[str, str]
    # (vendor) → sku → quantity the channel shows; revisions per (vendor, sku) today.
    levels: dict[str, dict[str, int]] = field(default_factory=dict)
    revisions: dict[tuple[str, str], int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    sales: list[dict[str, Any]] = field(default_factory=list)
    # Sales a test queued to happen when a vendor's next write arrives: the sale lands between
    # the sync's read and its write, deterministically (no sleeps). vendor → [(channel, sku, n)].
    on_write: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    # Square orders changes by `occurred_at`: the last physical count per SKU and the sales on
    # Square with their times (a count applies the sales that occurred after it on top).
    counted_at: dict[str, float] = field(default_factory=dict)
    square_sales: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    last_stamp: float = 0.0
    # A channel's own price or title where someone edited it there: vendor → sku → value.
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    titles: dict[str, dict[str, str]] = field(default_factory=dict)

    def price_on(self, vendor: str, sku: str) -> float:
        return self.prices.get(vendor, {}).get(sku, self.price[sku])

    def title_on(self, vendor: str, sku: str) -> str:
        return self.titles.get(vendor, {}).get(sku, self.title[sku])

    def stamp(self, now: float) -> float:
        """A time for an event: `now`, strictly after the previous one (so a read and a sale in
        the same microsecond still have an order)."""
        self.last_stamp = round(max(now, self.last_stamp + 1e-6), 6)
        return self.last_stamp


def catalogue(state: SandboxState, store: str) -> Catalogue:
    key = f"catalogue:{store}"
    found = state.channels.get(key)
    if found is None:
        n, seed = state.config.products_per_store, state.config.seed
        rng = _rng(seed, store, "catalogue")
        skus = [f"P-{i:06d}" for i in range(n)]
        on_hand = rng.integers(0, 120, n)
        price = np.round(rng.uniform(2, 400, n), 2)
        found = Catalogue(
            skus=skus,
            on_hand=dict(zip(skus, on_hand.tolist(), strict=True)),
            price=dict(zip(skus, price.tolist(), strict=True)),
            title={s: f"Part {s}" for s in skus},
        )
        for vendor in VENDORS:
            shown = _rng(seed, store, vendor).integers(0, 30, n)
            found.levels[vendor] = dict(zip(skus, shown.tolist(), strict=True))
        state.channels[key] = found
    return found


def write(cat: Catalogue, vendor: str, sku: str, quantity: int) -> None:
    cat.levels[vendor][sku] = quantity
    cat.revisions[(vendor, sku)] = cat.revisions.get((vendor, sku), 0) + 1
    cat.writes[vendor] = cat.writes.get(vendor, 0) + 1


def sell_on(
    cat: Catalogue, vendor: str, sku: str, quantity: int, at: float, *, past_zero: bool = False
) -> dict[str, Any]:
    """A sale on a channel: the channel's count and the store's on hand both drop. Refused
    beyond what the channel shows (a channel knows nothing of the store's on hand), unless the
    channel takes orders past 0 (`past_zero`, Shopify's "continue selling when out of stock"):
    then its count goes negative. An oversold product shows as a negative on hand."""
    shown = cat.levels[vendor][sku]
    if quantity > shown and not past_zero:
        return {"sold": False, "shown": shown, "on_hand": cat.on_hand[sku]}
    cat.levels[vendor][sku] = shown - quantity
    cat.on_hand[sku] -= quantity
    if vendor == "square":
        cat.square_sales.setdefault(sku, []).append((at, quantity))
    cat.sales.append({"channel": vendor, "sku": sku, "quantity": quantity, "at": at})
    return {"sold": True, "shown": shown - quantity, "on_hand": cat.on_hand[sku]}


def before_write(state: SandboxState, cat: Catalogue, vendor: str) -> None:
    """Run the sales queued for `vendor`'s next write (the test hook), before the write lands."""
    for channel, sku, quantity in cat.on_write.pop(vendor, []):
        sell_on(cat, channel, sku, quantity, cat.stamp(state.wall()))


def orders_since(
    cat: Catalogue, vendor: str, since: str | None, field: str
) -> list[dict[str, Any]]:
    """The orders `vendor` took at or after `since` (an ISO time; none: all), oldest first, or a
    400 naming `field` when `since` is not a time with its offset."""
    start = parse_time(since) if since else float("-inf")
    if start is None:
        raise bad_request(f"{field}: an ISO 8601 time with its offset")
    return [
        s for s in cat.sales if s["channel"] == vendor and s.get("order_id") and s["at"] >= start
    ]


def iso(at: float) -> str:
    """A sandbox time as the vendors write it (ISO 8601, UTC, microseconds)."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")


def parse_time(value: object) -> float | None:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.timestamp() if at.tzinfo else None


def admin_router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/admin/channels")

    @api.get("/{store}")
    async def truth(store: str) -> dict[str, Any]:
        """Ground truth: on hand, what each channel shows, writes per channel, sales."""
        cat = catalogue(state, store)
        return {
            "on_hand": cat.on_hand,
            "levels": cat.levels,
            "writes": cat.writes,
            "sales": cat.sales,
        }

    @api.post("/{store}/sell")
    async def sell(store: str, request: Request) -> dict[str, Any]:
        """A customer buys on a channel now (see `sell_on`; `past_zero`: the channel sells
        past 0)."""
        vendor, sku, quantity, cat = await _sale(store, request)
        body = await request.json()
        at = cat.stamp(state.wall())
        sale = sell_on(cat, vendor, sku, quantity, at, past_zero=bool(body.get("past_zero")))
        if sale["sold"]:
            cat.sales[-1]["order_id"] = body.get("order_id")
        return sale

    @api.post("/{store}/edit")
    async def edit(store: str, request: Request) -> dict[str, Any]:
        """Someone changes a product's price or title on one channel (not in the store)."""
        body = await request.json()
        vendor, sku = body.get("channel"), body.get("sku")
        cat = catalogue(state, store)
        if vendor not in VENDORS or sku not in cat.on_hand:
            raise bad_request("channel and sku: a known channel and SKU")
        price, title = body.get("price"), body.get("title")
        if price is not None:
            if not isinstance(price, int | float) or price < 0:
                raise bad_request("price: a number ≥ 0")
            cat.prices.setdefault(vendor, {})[sku] = float(price)
        if title is not None:
            cat.titles.setdefault(vendor, {})[sku] = str(title)
        return {"price": cat.price_on(vendor, sku), "title": cat.title_on(vendor, sku)}

    @api.post("/{store}/sell-on-next-write")
    async def sell_on_next_write(store: str, request: Request) -> dict[str, Any]:
        """Queue a sale on `channel` for the moment `vendor`'s next write request arrives, before
        the write is applied: a sale between a sync's read and its write, on demand."""
        vendor, sku, quantity, cat = await _sale(store, request)
        trigger = (await request.json()).get("on", vendor)
        if trigger not in VENDORS:
            raise bad_request("on: a known channel")
        cat.on_write.setdefault(trigger, []).append((vendor, sku, quantity))
        return {"queued": sum(len(q) for q in cat.on_write.values())}

    async def _sale(store: str, request: Request) -> tuple[str, str, int, Catalogue]:
        body = await request.json()
        vendor, sku, quantity = body.get("channel"), body.get("sku"), body.get("quantity", 1)
        cat = catalogue(state, store)
        if vendor not in VENDORS or sku not in cat.on_hand:
            raise bad_request("channel and sku: a known channel and SKU")
        if not isinstance(quantity, int) or quantity <= 0:
            raise bad_request("quantity: a whole number > 0")
        return vendor, sku, quantity, cat

    return api
