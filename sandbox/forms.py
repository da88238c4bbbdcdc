"""URL-encoded form bodies, read without python-multipart (the only forms here are tiny)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

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
