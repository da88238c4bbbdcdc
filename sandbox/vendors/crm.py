"""The CRM's API (VinSolutions-shaped): OAuth2 client-credentials tokens and paginated contacts.

The API reads DoNotCall but cannot change it; only the web UI (`crm_ui`) can.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sandbox import credentials, data
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState
from sandbox.wire import json_answer, read_form

MAX_PAGE_SIZE = 1000


def current_contact(state: SandboxState, dealer: str, index: int) -> dict[str, Any]:
    """Contact `index` with the DoNotCall flag as last saved through the UI."""
    c = data.contact(state.config.seed, dealer, index, state.config.today)
    saved = state.crm_flags.get((dealer, c["ContactId"]))
    if saved is not None:
        c["ContactInformation"]["DoNotCall"] = saved
    return c


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/crm")

    @api.post("/oauth/token")
    async def token(request: Request) -> dict[str, Any]:
        await state.gate(request, "crm")
        form = await read_form(request)
        grant_type, client_id = form.get("grant_type", ""), form.get("client_id", "")
        client_secret = form.get("client_secret", "")
        if grant_type != "client_credentials":
            raise VendorError(
                400, "unsupported_grant_type", "grant_type must be client_credentials"
            )
        if not client_id or client_secret != credentials.CRM_CLIENT_SECRET:
            raise VendorError(401, "invalid_client", "unknown client_id or wrong client_secret")
        return {
            "access_token": state.issue_token(),
            "token_type": "Bearer",
            "expires_in": int(state.config.token_ttl_seconds),
        }

    @api.get("/dealers/{dealer}/contacts")
    async def contacts(
        request: Request,
        dealer: str,
        page: str = Query("1"),
        pageSize: str = Query("100"),
    ) -> Response:
        await state.gate(request, "crm", dealer)
        _authorize(state, request)
        number, size = _positive(page, "page"), _positive(pageSize, "pageSize")
        if size > MAX_PAGE_SIZE:
            raise bad_request(f"pageSize: at most {MAX_PAGE_SIZE}, got {size}")
        total = state.config.contacts_per_store
        start = (number - 1) * size
        items = [current_contact(state, dealer, i) for i in range(start, min(start + size, total))]
        next_url = None
        if start + size < total:
            next_url = str(request.url.include_query_params(page=number + 1, pageSize=size))
        return json_answer({"items": items, "totalCount": total, "next": next_url})

    return api


def _authorize(state: SandboxState, request: Request) -> None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not state.token_valid(token.strip()):
        raise VendorError(
            401,
            "invalid_token",
            "missing, unknown or expired access token",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if request.headers.get("api_key") != credentials.CRM_API_KEY:
        raise VendorError(403, "forbidden", "missing or wrong api_key header")


def _positive(raw: str, name: str) -> int:
    if not data.ascii_digits(raw) or int(raw) < 1:
        raise bad_request(f"{name}: must be a whole number ≥ 1, got {raw!r}")
    return int(raw)
