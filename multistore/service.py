"""The HTTP service of `multistore serve`: one FastAPI app, one router per area.

Each area keeps its routes in a module of its own and is included here, so a new area is one
line in `create_app`. Bound to 127.0.0.1 by default (see `multistore.cli_ops`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from multistore.prefect_api import PrefectAPI


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    *,
    registry_url: str | None = None,
    prefect: PrefectAPI | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> FastAPI:
    """The app; `registry_url`, `prefect` and `clock` default to the configured ones (tests
    inject theirs)."""
    from multistore import api_channels, api_network, api_ops, metrics

    app = FastAPI(title="multistore", docs_url="/docs", redoc_url=None)
    app.state.registry_url = registry_url
    app.state.prefect = prefect
    app.state.clock = clock
    # Kept for the app's life: each scrape reads only the runs finished since the last one.
    app.state.metrics = metrics.Metrics(registry_url=registry_url, prefect=prefect)
    app.include_router(api_ops.router)  # /health, /metrics
    app.include_router(api_network.router)  # /network/nearest, /network/hub
    app.include_router(api_channels.router)  # /channels: webhooks, reservations
    return app
