"""The sandbox service: one FastAPI app, one router per vendor."""

from __future__ import annotations

from fastapi import FastAPI

from sandbox import admin, channels, errors, pages
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState
from sandbox.vendors import (
    amazon,
    crm,
    crm_ui,
    custom,
    dealercom,
    dnc,
    ebay,
    homenet,
    node,
    shopify,
    shortener,
    square,
    stockroom,
    vdp,
)

VENDOR_MODULES = (
    crm,
    crm_ui,
    dnc,
    homenet,
    dealercom,
    vdp,
    shortener,
    node,
    shopify,
    square,
    ebay,
    amazon,
    custom,
    stockroom,
)


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """The app; its state is `app.state.sandbox` (a SandboxState)."""
    state = SandboxState(config or SandboxConfig())
    app = FastAPI(title="multistore sandbox", docs_url="/docs", redoc_url=None)
    app.state.sandbox = state
    errors.install(app)
    for module in VENDOR_MODULES:
        app.include_router(module.router(state))
    app.include_router(pages.router(state))
    app.include_router(admin.router(state))
    app.include_router(channels.admin_router(state))
    return app
