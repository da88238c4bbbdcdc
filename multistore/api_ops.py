"""The operations routes: `/health` (JSON, 503 when a part is unreachable) and `/metrics`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from multistore import metrics
from multistore.health import check_health

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Overall status and every store's health; 503 with the reasons when a part is down."""
    state = request.app.state
    # Plain blocking SQL and HTTP: off the event loop, so a slow database stalls no other route.
    result = await asyncio.to_thread(
        check_health, state.clock(), registry_url=state.registry_url, prefect=state.prefect
    )
    return JSONResponse(result.to_dict(), status_code=result.http_status)


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    body = await asyncio.to_thread(request.app.state.metrics.render)
    return Response(body, media_type=metrics.CONTENT_TYPE)
