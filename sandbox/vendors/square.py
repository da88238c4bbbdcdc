"""Square (shape of the Inventory API): counts per catalog object and location.

- `POST /square/{store}/v2/inventory/counts/batch-retrieve` `{"cursor", "limit" ≤ 1000}` →
  `{"counts": [{"catalog_object_id", "quantity" (a string), "state": "IN_STOCK",
  "calculated_at", "item_name", "price_money": {"amount" (cents), "currency"}}], "cursor"}` (the
  name and price save the catalog lookup).
- `POST /square/{store}/v2/inventory/changes/batch-create` `{"idempotency_key", "changes": [{"type":
  "PHYSICAL_COUNT", "physical_count": {"catalog_object_id", "quantity", "state", "occurred_at"}}]}`
  with at most 100 changes; the same idempotency key again returns the first answer and applies
  nothing.
- `POST /square/{store}/v2/orders/search` `{"query": {"filter": {"date_time_filter":
  {"created_at": {"start_at": ISO}}}}, "limit" ≤ 500, "cursor"}` → `{"orders": [{"id",
  "created_at", "line_items": [{"catalog_object_id", "quantity" (a string)}]}], "cursor"}`,
  oldest first: each sale with an order id made on Square (one recorded twice under one id is
  reported twice).

Square orders changes by `occurred_at`, as the real one does: a physical count says what there was
at its `occurred_at`, so the sales that occurred after that time still count on top of it (a count
stamped with the read's `calculated_at` cannot undo a sale made after the read), and a count
older than the SKU's last count is history, not the current count.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sandbox import credentials
from sandbox.channels import (
    Catalogue,
    before_write,
    catalogue,
    iso,
    orders_since,
    parse_time,
    write,
)
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState

VENDOR = "square"
MAX_CHANGES = 100
MAX_PAGE = 1000
MAX_ORDERS = 500


def apply_count(cat: Catalogue, sku: str, qty: int, at: float) -> None:
    """A PHYSICAL_COUNT of `qty` that occurred `at`: the sales on Square after it come off it."""
    if at < cat.counted_at.get(sku, float("-inf")):
        return  # an older count than the one in force: history only
    cat.counted_at[sku] = at
    later = sum(n for t, n in cat.square_sales.get(sku, []) if t > at)
    write(cat, VENDOR, sku, max(qty - later, 0))


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/square/{store}/v2")

    async def body_of(request: Request, store: str) -> dict[str, Any]:
        await state.gate(request, VENDOR, store)
        if request.headers.get("authorization") != f"Bearer {credentials.CHANNEL_TOKEN}":
            raise VendorError(401, "UNAUTHORIZED", "missing or wrong Bearer token")
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        if not isinstance(body, dict):
            raise bad_request("body: a JSON object")
        return body

    @api.post("/inventory/counts/batch-retrieve")
    async def counts(store: str, request: Request) -> dict[str, Any]:
        body = await body_of(request, store)
        start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
        if not 1 <= limit <= MAX_PAGE:
            raise bad_request(f"limit: 1..{MAX_PAGE}")
        cat = catalogue(state, store)
        page = cat.skus[start : start + limit]
        at = iso(cat.stamp(state.wall()))
        rows = [
            {
                "catalog_object_id": sku,
                "quantity": str(cat.levels[VENDOR][sku]),
                "state": "IN_STOCK",
                "calculated_at": at,
                "item_name": cat.title_on(VENDOR, sku),
                "price_money": {
                    "amount": round(cat.price_on(VENDOR, sku) * 100),
                    "currency": "USD",
                },
            }
            for sku in page
        ]
        more = start + limit < len(cat.skus)
        return {"counts": rows, **({"cursor": str(start + limit)} if more else {})}

    @api.post("/inventory/changes/batch-create")
    async def batch_create(store: str, request: Request) -> dict[str, Any]:
        body = await body_of(request, store)
        key, changes = body.get("idempotency_key"), body.get("changes")
        if not isinstance(key, str) or not key:
            raise bad_request("idempotency_key: required")
        seen = state.channels.setdefault(f"square-keys:{store}", {})
        if key in seen:
            return seen[key]
        if not isinstance(changes, list) or not changes:
            raise bad_request("changes: a non-empty list")
        if len(changes) > MAX_CHANGES:
            raise bad_request(f"changes: {len(changes)} given, at most {MAX_CHANGES}")
        cat = catalogue(state, store)
        before_write(state, cat, VENDOR)
        parsed = []
        for position, change in enumerate(changes):
            count = change.get("physical_count") if isinstance(change, dict) else None
            sku = count.get("catalog_object_id") if isinstance(count, dict) else None
            try:
                qty = int(count["quantity"])  # type: ignore[index]
            except (TypeError, KeyError, ValueError):
                qty = -1
            at = parse_time(count.get("occurred_at")) if isinstance(count, dict) else None
            if sku not in cat.on_hand or qty < 0 or at is None:
                raise bad_request(f"changes[{position}]: catalog_object_id, quantity, occurred_at")
            parsed.append((at, position, sku, qty))
        for at, _pos, sku, qty in sorted(parsed):
            apply_count(cat, sku, qty, at)
        answer = {"counts": [{"catalog_object_id": s, "quantity": str(q)} for *_, s, q in parsed]}
        seen[key] = answer
        return answer

    @api.post("/orders/search")
    async def search_orders(store: str, request: Request) -> dict[str, Any]:
        body = await body_of(request, store)
        start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 500)
        if not 1 <= limit <= MAX_ORDERS:
            raise bad_request(f"limit: 1..{MAX_ORDERS}")
        start_at = _at(body, "query", "filter", "date_time_filter", "created_at", "start_at")
        sales = orders_since(catalogue(state, store), VENDOR, start_at, "start_at")
        rows = [
            {
                "id": s["order_id"],
                "created_at": iso(s["at"]),
                "line_items": [{"catalog_object_id": s["sku"], "quantity": str(s["quantity"])}],
            }
            for s in sales[start : start + limit]
        ]
        more = start + limit < len(sales)
        return {"orders": rows, **({"cursor": str(start + limit)} if more else {})}

    return api


def _at(body: Any, *path: str) -> Any:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body
