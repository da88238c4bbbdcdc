"""eBay (shape of the Sell Inventory API).

- `GET /ebay/{store}/sell/inventory/v1/inventory_item?limit=200&offset=N` →
  `{"inventoryItems": [{"sku", "availability": {"shipToLocationAvailability": {"quantity"}},
  "product": {"title"}, "price": {"value", "currency"}}], "total", "next"}` (limit ≤ 200; the
  price saves the offer lookup).
- `POST /ebay/{store}/sell/inventory/v1/bulk_update_price_quantity` `{"requests": [{"sku",
  "shipToLocationAvailability": {"quantity"}}]}`, at most 25; each answered on its own
  (`{"responses": [{"sku", "statusCode"}]}`): a listing revised 250 times today gets 400 while
  the others in the call succeed (a partial failure).

"Today" is eBay's day: eBay keeps official time in US Pacific time, so the revision count starts
again at midnight Pacific (on the sandbox's clock, which `POST /admin/clock/advance` moves).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from sandbox import credentials
from sandbox.channels import Catalogue, before_write, catalogue, write
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState

VENDOR = "ebay"
MAX_SKUS = 25
MAX_PAGE = 200
REVISIONS_PER_DAY = 250
EBAY_TIME = ZoneInfo("America/Los_Angeles")


def ebay_day(at: float) -> str:
    """The eBay day (Pacific date) a moment falls in."""
    return datetime.fromtimestamp(at, EBAY_TIME).date().isoformat()


def revise(state: SandboxState, store: str, cat: Catalogue, sku: str, qty: int) -> bool:
    """Set a listing's quantity, unless it was revised REVISIONS_PER_DAY times this eBay day."""
    today = state.channels.setdefault(f"ebay-revisions:{store}", {})
    day = ebay_day(state.wall())
    if today.get("day") != day:  # a new eBay day: every listing's count starts again
        today.clear()
        today["day"] = day
    if today.get(sku, 0) >= REVISIONS_PER_DAY:
        return False
    today[sku] = today.get(sku, 0) + 1
    write(cat, VENDOR, sku, qty)
    return True


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/ebay/{store}/sell/inventory/v1")

    async def gate(request: Request, store: str) -> None:
        await state.gate(request, VENDOR, store)
        if request.headers.get("authorization") != f"Bearer {credentials.CHANNEL_TOKEN}":
            raise VendorError(401, "unauthorized", "missing or wrong Bearer token")

    @api.get("/inventory_item")
    async def items(store: str, request: Request, limit: int = 25, offset: int = 0):
        await gate(request, store)
        if not 1 <= limit <= MAX_PAGE:
            raise bad_request(f"limit: 1..{MAX_PAGE}")
        cat = catalogue(state, store)
        rows = [
            {
                "sku": s,
                "availability": {"shipToLocationAvailability": {"quantity": cat.levels[VENDOR][s]}},
                "product": {"title": cat.title_on(VENDOR, s)},
                "price": {"value": f"{cat.price_on(VENDOR, s):.2f}", "currency": "USD"},
            }
            for s in cat.skus[offset : offset + limit]
        ]
        more = offset + limit < len(cat.skus)
        nxt = str(request.url.include_query_params(offset=offset + limit)) if more else None
        return {"inventoryItems": rows, "total": len(cat.skus), "next": nxt}

    @api.post("/bulk_update_price_quantity")
    async def bulk(store: str, request: Request) -> dict[str, Any]:
        await gate(request, store)
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise bad_request("requests: a non-empty list")
        if len(requests) > MAX_SKUS:
            raise bad_request(f"requests: {len(requests)} given, at most {MAX_SKUS}")
        cat = catalogue(state, store)
        before_write(state, cat, VENDOR)
        responses = []
        for item in requests:
            sku = item.get("sku") if isinstance(item, dict) else None
            avail = item.get("shipToLocationAvailability") if isinstance(item, dict) else None
            qty = avail.get("quantity") if isinstance(avail, dict) else None
            if sku not in cat.on_hand or not isinstance(qty, int) or qty < 0:
                responses.append({"sku": sku, "statusCode": 400, "errors": ["invalid request"]})
            elif not revise(state, store, cat, sku, qty):
                responses.append({"sku": sku, "statusCode": 400, "errors": ["revision limit"]})
            else:
                responses.append({"sku": sku, "statusCode": 200})
        return {"responses": responses}

    return api
