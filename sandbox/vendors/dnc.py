"""The do-not-call scrub service (DNC.com-shaped): batches of ten-digit numbers, one verdict each.

Rate limited account-wide (429 + Retry-After past the bucket). A batch is atomic: one malformed
number or more than MAX_BATCH numbers refuses it whole, unless `ignore_invalid` asks to answer
malformed numbers with code I.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import credentials, data
from sandbox.errors import VendorError, bad_request
from sandbox.state import SandboxState
from sandbox.wire import json_answer

MAX_BATCH = 1000


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/dnc")

    @api.post("/scrub")
    async def scrub(request: Request) -> Response:
        store = request.headers.get("x-store-id") or None
        await state.gate(request, "dnc", store)
        if request.headers.get("x-api-key") != credentials.DNC_API_KEY:
            raise VendorError(401, "unauthorized", "missing or wrong X-API-Key header")
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("numbers"), list):
            raise bad_request("numbers: required, a list of ten-digit strings")
        numbers, ignore_invalid = body["numbers"], body.get("ignore_invalid", False)
        if not isinstance(ignore_invalid, bool):
            raise bad_request("ignore_invalid: must be true or false")
        if len(numbers) > MAX_BATCH:
            raise VendorError(
                400, "batch_too_large", f"numbers: {len(numbers)} given, at most {MAX_BATCH}"
            )
        results = []
        for position, number in enumerate(numbers):
            if isinstance(number, str) and len(number) == 10 and data.ascii_digits(number):
                results.append(data.scrub_result(state.config.seed, number))
            elif ignore_invalid:
                results.append({"number": str(number), "code": "I", "reason": "Malformed number"})
            else:
                raise VendorError(
                    400,
                    "invalid_number",
                    f"numbers[{position}]: {number!r} is not ten digits (batch refused)",
                )
        return json_answer({"results": results})

    return api
