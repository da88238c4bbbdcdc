"""HomeNet IOL: a dealer's inventory as one CSV file, real column names, a few bad rows."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import credentials, inventory
from sandbox.errors import VendorError
from sandbox.state import SandboxState


def feed_csv(state: SandboxState, dealer: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=inventory.HOMENET_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    config = state.config
    for i in range(config.vehicles_per_store):
        writer.writerow(inventory.homenet_row(config.seed, dealer, i, config.today))
    return out.getvalue()


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/homenet")

    @api.get("/{dealer}/inventory.csv")
    async def feed(request: Request, dealer: str, key: str = "") -> Response:
        await state.gate(request, "homenet", dealer)
        if (request.headers.get("x-api-key") or key) != credentials.HOMENET_KEY:
            raise VendorError(401, "unauthorized", "missing or wrong X-API-Key header (or ?key=)")
        return Response(
            feed_csv(state, dealer),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{_filename(dealer)}"'},
        )

    return api


def _filename(dealer: str) -> str:
    """A header-safe file name whatever the dealer id holds."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in dealer)
    return f"{safe}-inventory.csv"
