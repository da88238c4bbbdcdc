"""Reading requests and writing answers: URL-encoded forms without python-multipart (the only
forms here are tiny), and JSON answers without FastAPI's per-field encoding (contact pages are
large and served often)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse

from sandbox.errors import bad_request


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (first value of each); a body that is not a form is a 400."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise bad_request(f"body: expected application/x-www-form-urlencoded, got {kind or 'none'}")
    try:
        fields = parse_qs((await request.body()).decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise bad_request("body: not UTF-8") from None
    return {name: values[0] for name, values in fields.items()}


def json_answer(content: Any, status: int = 200) -> JSONResponse:
    """Plain JSON-native data (dicts, lists, str, int, bool, None), serialised as is."""
    return JSONResponse(content, status_code=status)
