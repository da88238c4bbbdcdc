"""Endpoints for tests and benchmarks only (pipelines never call these): counters, faults,
limits, reset, ground truth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import data, inventory
from sandbox.errors import bad_request
from sandbox.faults import parse_faults
from sandbox.state import SandboxState
from sandbox.vendors.crm import current_contact
from sandbox.wire import json_answer


def router(state: SandboxState) -> APIRouter:
    admin = APIRouter(prefix="/admin")

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None

    @admin.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "seed": state.config.seed}

    @admin.get("/counters")
    async def counters(detail: int = 0) -> dict[str, Any]:
        return state.counters.snapshot(detail=bool(detail))

    @admin.post("/clock/advance")
    async def advance_clock(request: Request) -> dict[str, Any]:
        """Move the sandbox's clock ahead (token expiry, faults that end), instead of waiting."""
        body = await json_body(request)
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad_request("seconds: required, a number ≥ 0")
        state.advance_clock(float(seconds))
        return {"skew": state.skew}

    @admin.post("/counters/reset")
    async def reset_counters() -> dict[str, Any]:
        state.counters.reset()
        return {"ok": True}

    @admin.get("/rate")
    async def rate() -> dict[str, Any]:
        return state.counters.rate_summary()

    @admin.get("/faults")
    async def faults() -> list[dict[str, Any]]:
        return [f.model_dump(mode="json", exclude_defaults=True) for f in state.faults.active()]

    @admin.put("/faults")
    async def set_faults(request: Request) -> list[dict[str, Any]]:
        try:
            new = parse_faults(await json_body(request), where="body")
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        state.faults.replace(new)
        return await faults()

    @admin.delete("/faults")
    async def clear_faults() -> list[dict[str, Any]]:
        state.faults.clear()
        return []

    @admin.get("/config")
    async def config() -> dict[str, Any]:
        return state.config.model_dump(mode="json", exclude={"faults", "limits"})

    @admin.put("/config")
    async def configure(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request('body: an object, e.g. {"contacts_per_store": 5000}')
        try:
            state.configure(body)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return await config()

    @admin.get("/limits")
    async def limits() -> dict[str, Any]:
        return state.limits()

    @admin.put("/limits")
    async def set_limits(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request("body: an object {vendor: {per_minute, burst} | null}")
        for vendor, spec in body.items():
            if spec is None:
                continue
            ok = isinstance(spec, dict) and all(
                isinstance(spec.get(k), int | float)
                and not isinstance(spec.get(k), bool)
                and spec[k] > 0
                for k in ("per_minute", "burst")
            )
            if not ok:
                raise bad_request(f"{vendor}: needs per_minute > 0 and burst ≥ 1")
        state.set_limits(body)
        return state.limits()

    @admin.post("/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"ok": True}

    @admin.get("/stores")
    async def stores() -> list[str]:
        return [f"store-{n:04d}" for n in range(1, state.config.stores + 1)]

    @admin.get("/crm/{dealer}/flags")
    async def crm_flags(dealer: str) -> Response:
        contacts = _contacts(state, dealer)
        return json_answer({c["ContactId"]: c["ContactInformation"]["DoNotCall"] for c in contacts})

    @admin.get("/crm/{dealer}/contacts")
    async def crm_contacts(dealer: str) -> Response:
        return json_answer(_contacts(state, dealer))

    @admin.get("/inventory/{dealer}")
    async def inventory_truth(dealer: str) -> dict[str, Any]:
        """Which HomeNet rows are bad (and why) and how Dealer.com differs from HomeNet."""
        config = state.config
        total, seed, today = config.vehicles_per_store, config.seed, config.today
        rejects = [
            {
                "row": i + 2,
                "stock": inventory.homenet_row(seed, dealer, i, today)["Stock"],
                "defect": kind,
            }
            for i in range(total)
            if (kind := inventory.bad_kind(i))
        ]
        good = [
            inventory.vehicle(seed, dealer, i, today)["VIN"]
            for i in range(total)
            if not inventory.bad_kind(i)
        ]
        listing = inventory.dealercom_listing(seed, dealer, total, today)
        return {
            "homenet": {"rows": total, "good_vins": good, "rejects": rejects},
            "dealercom": {
                "listed": len(listing.vehicles),
                "missing": listing.missing,
                "extra": listing.extra,
                "price_mismatch": listing.price_mismatch,
            },
        }

    @admin.get("/shortener/links")
    async def short_links() -> dict[str, str]:
        return dict(state.short_links)

    @admin.get("/dnc/{number}")
    async def dnc_truth(number: str) -> dict[str, str]:
        return data.scrub_result(state.config.seed, number)

    return admin


def _contacts(state: SandboxState, dealer: str) -> list[dict[str, Any]]:
    return [current_contact(state, dealer, i) for i in range(state.config.contacts_per_store)]
