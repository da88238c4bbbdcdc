"""Shopify (shape of the Admin API's inventory levels): one level per (inventory item, location).

- `GET /shopify/{store}/admin/api/2026-04/inventory_levels.json?limit=250&page_info=N`:
  `{"inventory_levels": [{"inventory_item_id", "location_id", "available", "sku"}]}`, the next
  page in a `Link: <…>; rel="next"` header (limit ≤ 250). (`sku`, and the variant's `price` (a
  string, as Shopify's money) and product `title`, save the variant lookup.)
- `POST /shopify/{store}/admin/api/2026-04/inventory_set_quantities.json`
  `{"quantities": [{"inventory_item_id", "location_id", "quantity", "changeFromQuantity"}]}`
  (≤ 250, as GraphQL's `inventorySetQuantities` takes from API 2026-04), answered
  `{"userErrors": [{"field", "message", "code"}]}` per item not set. `changeFromQuantity` is the
  compare-and-set: an item whose level is no longer that quantity (a sale landed since it was
  read) is not set and gets code `CHANGE_FROM_QUANTITY_STALE`; the others in the call are set.
  Left out, the set is unconditional.
- `GET …/inventory_levels.json?inventory_item_ids=1,2,3`: just those levels (≤ 250 ids).
- `GET …/orders.json?status=any&created_at_min=ISO&limit=250` → `{"orders": [{"id", "created_at",
  "line_items": [{"sku", "quantity"}]}]}`, oldest first, the next page in a `Link` header: each
  sale with an order id made on Shopify (a sale recorded twice under one id is reported twice).

Every call spends one call of the leaky bucket (40, leaking 2 per second): the answer says
`X-Shopify-Shop-Api-Call-Limit: used/40`; past it, 429 with Retry-After.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox import credentials
from sandbox.channels import (
    Catalogue,
    before_write,
    catalogue,
    iso,
    orders_since,
    write,
)
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState

VENDOR = "shopify"
LOCATION = 1
MAX_PAGE = 250
MAX_SET = 250
ITEM_BASE = 1_000_000


def item_id(index: int) -> int:
    return ITEM_BASE + index


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/shopify/{store}/admin/api/2026-04")

    async def gate(request: Request, store: str) -> None:
        await state.gate(request, VENDOR, store)
        if request.headers.get("x-shopify-access-token") != credentials.CHANNEL_TOKEN:
            raise VendorError(401, "unauthorized", "missing or wrong X-Shopify-Access-Token")

    def call_limit(store: str) -> dict[str, str]:
        bucket = state.bucket(VENDOR, store)
        used = 0 if bucket is None else bucket.burst - math.floor(bucket.tokens)
        burst = 40 if bucket is None else bucket.burst
        return {"X-Shopify-Shop-Api-Call-Limit": f"{max(used, 0)}/{burst}"}

    @api.get("/inventory_levels.json")
    async def levels(
        store: str,
        request: Request,
        limit: int = 50,
        page_info: int = 0,
        inventory_item_ids: str | None = None,
    ):
        await gate(request, store)
        if not 1 <= limit <= MAX_PAGE:
            raise bad_request(f"limit: 1..{MAX_PAGE}")
        cat = catalogue(state, store)
        if inventory_item_ids is not None:
            return JSONResponse(
                {"inventory_levels": _by_ids(cat, inventory_item_ids)}, headers=call_limit(store)
            )
        rows = [
            {
                "inventory_item_id": item_id(i),
                "location_id": LOCATION,
                "available": cat.levels[VENDOR][sku],
                "sku": sku,
                "price": f"{cat.price_on(VENDOR, sku):.2f}",
                "title": cat.title_on(VENDOR, sku),
            }
            for i, sku in enumerate(cat.skus[page_info : page_info + limit], start=page_info)
        ]
        headers = call_limit(store)
        if page_info + limit < len(cat.skus):
            url = str(request.url.include_query_params(page_info=page_info + limit))
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse({"inventory_levels": rows}, headers=headers)

    @api.get("/orders.json")
    async def orders(
        store: str,
        request: Request,
        created_at_min: str | None = None,
        limit: int = 50,
        page_info: int = 0,
        status: str = "open",
    ):
        await gate(request, store)
        if not 1 <= limit <= MAX_PAGE:
            raise bad_request(f"limit: 1..{MAX_PAGE}")
        sales = orders_since(catalogue(state, store), VENDOR, created_at_min, "created_at_min")
        rows = [
            {
                "id": s["order_id"],
                "created_at": iso(s["at"]),
                "line_items": [{"sku": s["sku"], "quantity": s["quantity"]}],
            }
            for s in sales[page_info : page_info + limit]
        ]
        headers = call_limit(store)
        if page_info + limit < len(sales):
            url = str(request.url.include_query_params(page_info=page_info + limit))
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse({"orders": rows}, headers=headers)

    @api.post("/inventory_set_quantities.json")
    async def set_quantities(store: str, request: Request):
        await gate(request, store)
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        quantities = body.get("quantities") if isinstance(body, dict) else None
        if not isinstance(quantities, list) or not quantities:
            raise bad_request("quantities: a non-empty list")
        if len(quantities) > MAX_SET:
            raise bad_request(f"quantities: {len(quantities)} given, at most {MAX_SET}")
        cat = catalogue(state, store)
        before_write(state, cat, VENDOR)
        errors = []
        for position, q in enumerate(quantities):
            index = (q.get("inventory_item_id") or 0) - ITEM_BASE if isinstance(q, dict) else -1
            qty = q.get("quantity") if isinstance(q, dict) else None
            where = ["quantities", str(position)]
            if not 0 <= index < len(cat.skus) or not isinstance(qty, int) or qty < 0:
                errors.append({"field": where, "message": "invalid", "code": "INVALID"})
                continue
            sku = cat.skus[index]
            expected = q.get("changeFromQuantity")
            if expected is not None and expected != cat.levels[VENDOR][sku]:
                errors.append(
                    {
                        "field": where,
                        "message": "the quantity changed since it was read",
                        "code": "CHANGE_FROM_QUANTITY_STALE",
                    }
                )
                continue
            write(cat, VENDOR, sku, qty)
        return JSONResponse({"userErrors": errors}, headers=call_limit(store))

    return api


def _by_ids(cat: Catalogue, ids: str) -> list[dict]:
    try:
        indexes = [int(i) - ITEM_BASE for i in ids.split(",") if i]
    except ValueError:
        raise bad_request("inventory_item_ids: comma-separated ids") from None
    if len(indexes) > MAX_PAGE:
        raise bad_request(f"inventory_item_ids: at most {MAX_PAGE}")
    return [
        {
            "inventory_item_id": item_id(i),
            "location_id": LOCATION,
            "available": cat.levels[VENDOR][cat.skus[i]],
            "sku": cat.skus[i],
        }
        for i in indexes
        if 0 <= i < len(cat.skus)
    ]
