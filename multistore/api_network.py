"""The network routes of `multistore serve`: nearest healthy store and hub discovery.

GET /network/nearest?lat=&lon=  (or ?store=ID to fail over from a store)
GET /network/hub?lat=&lon=
Bad input answers 400 with {"error": "<one line>"}; the same answers as `multistore nearest`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from multistore.network.lookup import hub_answer, nearest_answer
from multistore.network.registry import Network, NetworkError

router = APIRouter(prefix="/network", tags=["network"])


def _network(request: Request) -> Network:
    return Network(getattr(request.app.state, "registry_url", None))


async def _answer(call: Any, *args: Any, **kwargs: Any) -> JSONResponse:
    # Plain blocking SQL: off the event loop.
    try:
        return JSONResponse(await asyncio.to_thread(call, *args, **kwargs))
    except NetworkError as exc:
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=400)


@router.get("/nearest")
async def nearest(
    request: Request, lat: str | None = None, lon: str | None = None, store: str | None = None
) -> JSONResponse:
    """The nearest reachable store: the point's region first, then any."""
    if store is None and (lat is None or lon is None):
        return JSONResponse({"error": "give lat and lon, or store"}, status_code=400)
    return await _answer(nearest_answer, _network(request), lat, lon, store=store)


@router.get("/hub")
async def hub(request: Request, lat: str, lon: str) -> JSONResponse:
    """Which region and hub serve a point."""
    return await _answer(hub_answer, _network(request), lat, lon)
