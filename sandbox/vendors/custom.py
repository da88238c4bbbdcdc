"""A custom REST channel (a store's own web shop), the shape its block's templates describe:

- `GET /custom/{store}/api/stock?page=N` (header `X-Custom-Key`) → `{"data": [{"item_code",
  "qty", "unit_price", "name"}], "next_page": N | null}`, 500 a page.
- `PUT /custom/{store}/api/stock/bulk` `{"updates": [{"item_code", "qty"}]}`, at most 50.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sandbox import credentials
from sandbox.channels import before_write, catalogue, write
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState

VENDOR = "custom"
PAGE = 500
MAX_UPDATES = 50


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/custom/{store}/api")

    async def gate(request: Request, store: str) -> None:
        await state.gate(request, VENDOR, store)
        if request.headers.get("x-custom-key") != credentials.CHANNEL_TOKEN:
            raise VendorError(401, "unauthorized", "missing or wrong X-Custom-Key header")

    @api.get("/stock")
    async def stock(store: str, request: Request, page: int = 0) -> dict[str, Any]:
        await gate(request, store)
        cat = catalogue(state, store)
        rows = cat.skus[page * PAGE : (page + 1) * PAGE]
        more = (page + 1) * PAGE < len(cat.skus)
        return {
            "data": [
                {
                    "item_code": s,
                    "qty": cat.levels[VENDOR][s],
                    "unit_price": cat.price_on(VENDOR, s),
                    "name": cat.title_on(VENDOR, s),
                }
                for s in rows
            ],
            "next_page": page + 1 if more else None,
        }

    @api.put("/stock/bulk")
    async def bulk(store: str, request: Request) -> dict[str, Any]:
        await gate(request, store)
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        updates = body.get("updates") if isinstance(body, dict) else None
        if not isinstance(updates, list) or not 1 <= len(updates) <= MAX_UPDATES:
            raise bad_request(f"updates: a list of 1..{MAX_UPDATES}")
        cat = catalogue(state, store)
        before_write(state, cat, VENDOR)
        rejected = []
        for u in updates:
            code, qty = (u.get("item_code"), u.get("qty")) if isinstance(u, dict) else (None, None)
            if code not in cat.on_hand or not isinstance(qty, int) or qty < 0:
                rejected.append(code)
            else:
                write(cat, VENDOR, code, qty)
        return {"updated": len(updates) - len(rejected), "rejected": rejected}

    return api
