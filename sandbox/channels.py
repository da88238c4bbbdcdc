"""What the sales-channel vendors share: each store's catalogue (deterministic from seed and store
id), the store's inventory system (on hand, moved by sales), and what clients wrote to each
channel. Kept in `SandboxState.channels`; ground truth at `/admin/channels/...`.

Before anything is written, a channel shows the quantity it had "yesterday": a seeded number near
on hand / 5, so a first sync has real work to do and a second, with nothing changed, has none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
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
        """A sale on a channel: the channel's count and the store's on hand both drop. Refused
        only beyond what the channel shows (a channel knows nothing of the store's on hand), so
        an oversold product shows as a negative on hand in the ground truth."""
        body = await request.json()
        vendor, sku, quantity = body.get("channel"), body.get("sku"), body.get("quantity", 1)
        cat = catalogue(state, store)
        if vendor not in VENDORS or sku not in cat.on_hand:
            raise bad_request("channel and sku: a known channel and SKU")
        if not isinstance(quantity, int) or quantity <= 0:
            raise bad_request("quantity: a whole number > 0")
        shown = cat.levels[vendor][sku]
        if quantity > shown:
            return {"sold": False, "shown": shown, "on_hand": cat.on_hand[sku]}
        cat.levels[vendor][sku] = shown - quantity
        cat.on_hand[sku] -= quantity
        order = {
            "channel": vendor,
            "sku": sku,
            "quantity": quantity,
            "order_id": body.get("order_id"),
        }
        cat.sales.append(order)
        return {"sold": True, "shown": shown - quantity, "on_hand": cat.on_hand[sku]}

    return api
