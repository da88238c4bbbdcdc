"""The store's own inventory system, the source of truth for on hand (sales move it).

- `GET /stockroom/{store}/stock?offset=0&limit=1000` (header `X-API-Key`) →
  `{"items": [{"sku", "on_hand", "price", "title"}], "next_offset": N | null}` (limit ≤ 5000).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sandbox import credentials
from sandbox.channels import catalogue
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState

VENDOR = "stockroom"
MAX_PAGE = 5000


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/stockroom/{store}")

    @api.get("/stock")
    async def stock(store: str, request: Request, offset: int = 0, limit: int = 1000):
        await state.gate(request, VENDOR, store)
        if request.headers.get("x-api-key") != credentials.CHANNEL_TOKEN:
            raise VendorError(401, "unauthorized", "missing or wrong X-API-Key header")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise bad_request(f"limit: 1..{MAX_PAGE}, offset ≥ 0")
        cat = catalogue(state, store)
        page = cat.skus[offset : offset + limit]
        items: list[dict[str, Any]] = [
            {"sku": s, "on_hand": cat.on_hand[s], "price": cat.price[s], "title": cat.title[s]}
            for s in page
        ]
        more = offset + limit < len(cat.skus)
        return {"items": items, "next_offset": offset + limit if more else None}

    return api
