"""Errors in the vendors' own style: JSON {"error", "reason"} (an HTML page for browsers).

Malformed requests are 400s, unknown routes 404s; nothing a client sends produces a 500.
"""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException


class VendorError(Exception):
    """An answer other than success; raise it anywhere in a handler."""

    def __init__(
        self, status: int, error: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {error}: {reason}")
        self.status, self.error, self.reason = status, error, reason
        self.headers = headers or {}


def bad_request(reason: str, error: str = "bad_request") -> VendorError:
    return VendorError(400, error, reason)


def error_response(request: Request, exc: VendorError) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        body = (
            f"<!doctype html><title>{exc.status} {html.escape(exc.error)}</title>"
            f"<h1>{exc.status} {html.escape(exc.error)}</h1><p>{html.escape(exc.reason)}</p>"
        )
        return HTMLResponse(body, status_code=exc.status, headers=exc.headers)
    return JSONResponse(
        {"error": exc.error, "reason": exc.reason}, status_code=exc.status, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(VendorError)
    async def _vendor(request: Request, exc: VendorError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(request, bad_request(f"{where}: {first.get('msg')}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            reason = f"no route {request.method} {request.url.path}"
            return error_response(request, VendorError(404, "not_found", reason))
        if exc.status_code == 405:
            reason = f"{request.method} not allowed on {request.url.path}"
            return error_response(request, VendorError(405, "method_not_allowed", reason))
        return error_response(
            request, VendorError(exc.status_code, "error", str(exc.detail), dict(exc.headers or {}))
        )
