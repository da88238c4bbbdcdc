"""Dealer.com's inventory listing: pages of vehicles with prices as strings ("$41,250").

Consistent with the dealer's HomeNet feed except for a few missing, extra and re-priced vehicles
(`sandbox.inventory.dealercom_listing` says which).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sandbox import inventory
from sandbox.data import ascii_digits
from sandbox.errors import bad_request
from sandbox.state import SandboxState
from sandbox.wire import json_answer

MAX_PAGE_SIZE = 100


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/dealercom")

    @api.get("/{dealer}/getInventory")
    async def get_inventory(
        request: Request,
        dealer: str,
        start: str = Query("0"),
        pageSize: str = Query("50"),
    ) -> Response:
        await state.gate(request, "dealercom", dealer)
        if not ascii_digits(start):
            raise bad_request(f"start: must be a whole number ≥ 0, got {start!r}")
        if not ascii_digits(pageSize) or not 1 <= int(pageSize) <= MAX_PAGE_SIZE:
            raise bad_request(f"pageSize: must be 1..{MAX_PAGE_SIZE}, got {pageSize!r}")
        first, size = int(start), int(pageSize)
        listed = listing_items(state, dealer, str(request.base_url))
        return json_answer(
            {
                "pageInfo": {"totalCount": len(listed), "pageSize": size, "start": first},
                "inventory": listed[first : first + size],
            }
        )

    return api


def listing_items(state: SandboxState, dealer: str, base_url: str) -> list[dict[str, Any]]:
    """The dealer's whole listing as the API serves it (links under `base_url`)."""
    config = state.config
    listing = inventory.dealercom_listing(
        config.seed, dealer, config.vehicles_per_store, config.today
    )
    base = base_url.rstrip("/")
    return [_item(v, f"{base}/vdp/{quote(dealer, safe='')}/{v['VIN']}") for v in listing.vehicles]


def _item(v: dict[str, Any], link: str) -> dict[str, Any]:
    return {
        "vin": v["VIN"],
        "stockNumber": v["Stock"],
        "type": v["Type"].lower(),
        "modelYear": v["Year"],
        "make": v["Make"],
        "model": v["Model"],
        "trim": v["Trim"],
        "status": "In Transit" if v["index"] % 11 == 0 else "Live",
        "pricing": {
            "msrp": inventory.dollars(v["MSRP"]),
            "finalPrice": inventory.dollars(v["finalPrice"]),
        },
        "link": link,
    }
