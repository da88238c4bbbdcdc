"""A URL shortener (rate limited): the same long URL always gets the same short link."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from sandbox import credentials
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_URL = 2048


def code_for(url: str) -> str:
    number = int.from_bytes(hashlib.blake2b(url.encode(), digest_size=8).digest(), "big")
    chars = []
    for _ in range(7):
        number, digit = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return "".join(chars)


def router(state: SandboxState) -> APIRouter:
    api = APIRouter()

    @api.post("/shortener/shorten")
    async def shorten(request: Request) -> dict[str, Any]:
        store = request.headers.get("x-store-id") or None
        await state.gate(request, "shortener", store)
        if request.headers.get("x-api-key") != credentials.SHORTENER_KEY:
            raise VendorError(401, "unauthorized", "missing or wrong X-API-Key header")
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise bad_request("url: required, an absolute http(s) URL")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
            raise bad_request(f"url: not an absolute http(s) URL of ≤ {MAX_URL} characters")
        code = code_for(url)
        state.short_links[code] = url
        return {"short_url": f"{str(request.base_url).rstrip('/')}/s/{code}", "code": code}

    @api.get("/s/{code}")
    async def follow(code: str) -> RedirectResponse:
        url = state.short_links.get(code)
        if url is None:
            raise VendorError(404, "not_found", f"no short link {code!r}")
        return RedirectResponse(url, status_code=302)

    return api
