"""Vehicle detail pages: price and features are rendered by JavaScript from a JSON call, so a
plain GET of the page does not contain them (that is why scraping needs a browser)."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sandbox import inventory
from sandbox.errors import VendorError
from sandbox.pages import page
from sandbox.state import SandboxState

VENDOR = "vdp"

SCRIPT = """
(function () {
  var root = document.getElementById("vehicle");
  fetch(root.dataset.api).then(function (r) {
    if (!r.ok) { throw new Error("HTTP " + r.status); }
    return r.json();
  }).then(function (v) {
    document.getElementById("price").textContent = v.price;
    var list = document.getElementById("features");
    v.features.forEach(function (f) {
      var li = document.createElement("li"); li.textContent = f; list.appendChild(li);
    });
    root.dataset.loaded = "true";
  }).catch(function (err) {
    document.getElementById("price").textContent = "Price unavailable";
    root.dataset.error = String(err);
  });
})();
"""


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/vdp")

    def find(dealer: str, vin: str) -> dict[str, Any]:
        config = state.config
        v = inventory.find_vehicle(
            config.seed, dealer, vin, config.vehicles_per_store, config.today
        )
        if v is None:
            raise VendorError(404, "not_found", f"no vehicle {vin!r} at {dealer!r}")
        return v

    @api.get("/api/{dealer}/{vin}.json")
    async def details(request: Request, dealer: str, vin: str) -> dict[str, Any]:
        await state.gate(request, VENDOR, dealer)
        v = find(dealer, vin)
        return {"vin": vin, "price": inventory.dollars(v["finalPrice"]), "features": v["Options"]}

    @api.get("/{dealer}/{vin}")
    async def detail_page(request: Request, dealer: str, vin: str) -> HTMLResponse:
        await state.gate(request, VENDOR, dealer, page=True)
        v = find(dealer, vin)
        title = f"{v['Year']} {v['Make']} {v['Model']} {v['Trim']}"
        images = "".join(f'<img alt="" width="160" src="{html.escape(u)}">' for u in v["Images"])
        api = f"/vdp/api/{quote(dealer)}/{vin}.json"
        body = f"""<div id="vehicle" data-vin="{vin}" data-api="{api}">
<p class="vin">VIN <span id="vin">{vin}</span> · Stock <span id="stock">{v["Stock"]}</span></p>
<p>{html.escape(v["ExteriorColor"])} · {v["Miles"]:,} miles · {html.escape(v["Drivetrain"])}</p>
<p class="price-label">Our price: <strong id="price" class="price"></strong></p>
<h2>Features</h2><ul id="features"></ul>
<div class="gallery">{images}</div></div>"""
        return HTMLResponse(page(title, body, vendor=VENDOR, store=dealer, script=SCRIPT))

    return api
