"""Amazon SP-API (shape of the Feeds and Listings APIs): quantities are written asynchronously.

1. `POST /amazon/{store}/feeds/2021-06-30/documents` `{"contentType"}` → `{"feedDocumentId",
   "url"}`; 2. `PUT <url>` the JSON_LISTINGS_FEED (≤ 25,000 messages, each `{"messageId", "sku",
   "operationType": "PATCH", "patches": [{"op": "replace", "path":
   "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT",
   "quantity"}]}]}`); 3. `POST /amazon/{store}/feeds/2021-06-30/feeds` `{"feedType",
   "inputFeedDocumentId"}` → `{"feedId"}`: at most 5 submissions, then 1 per minute (429 +
   Retry-After); 4. `GET …/feeds/{feedId}`: `IN_PROGRESS` on the first poll, then `DONE` with
   `resultFeedDocumentId` (the feed is applied then); 5. `GET …/documents/{id}` → `{"report":
   {"summary": {...}, "issues": [{"messageId", "sku", "code"}]}}`.

Reading: `GET /amazon/{store}/listings/2021-08-01/items?pageSize=1000&pageToken=N` →
`{"items": [{"sku", "fulfillmentAvailability": [{"quantity"}], "summaries": [{"itemName"}],
"offers": [{"price": {"amount", "currencyCode"}}]}], "pagination": {"nextToken"}}`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from sandbox import credentials
from sandbox.channels import before_write, catalogue, write
from sandbox.errors import VendorError, bad_request
from sandbox.ratelimit import TokenBucket
from sandbox.state import SandboxState

VENDOR = "amazon"
MAX_MESSAGES = 25_000
MAX_PAGE = 1000


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/amazon/{store}")

    async def gate(request: Request, store: str) -> dict[str, Any]:
        await state.gate(request, VENDOR, store)
        if request.headers.get("x-amz-access-token") != credentials.CHANNEL_TOKEN:
            raise VendorError(403, "Unauthorized", "missing or wrong x-amz-access-token")
        return state.channels.setdefault(f"amazon:{store}", {"docs": {}, "feeds": {}})

    @api.get("/listings/2021-08-01/items")
    async def items(store: str, request: Request, pageSize: int = 20, pageToken: int = 0):
        await gate(request, store)
        if not 1 <= pageSize <= MAX_PAGE:
            raise bad_request(f"pageSize: 1..{MAX_PAGE}")
        cat = catalogue(state, store)
        page = cat.skus[pageToken : pageToken + pageSize]
        rows = [
            {
                "sku": s,
                "fulfillmentAvailability": [{"quantity": cat.levels[VENDOR][s]}],
                "summaries": [{"itemName": cat.title_on(VENDOR, s)}],
                "offers": [{"price": {"amount": cat.price_on(VENDOR, s), "currencyCode": "USD"}}],
            }
            for s in page
        ]
        more = pageToken + pageSize < len(cat.skus)
        return {"items": rows, "pagination": {"nextToken": pageToken + pageSize} if more else {}}

    @api.post("/feeds/2021-06-30/documents")
    async def create_document(store: str, request: Request) -> dict[str, Any]:
        book = await gate(request, store)
        doc = f"doc-{len(book['docs']) + 1}"
        book["docs"][doc] = None
        return {"feedDocumentId": doc, "url": f"{request.base_url}amazon/{store}/uploads/{doc}"}

    @api.put("/uploads/{doc}")
    async def upload(store: str, doc: str, request: Request) -> dict[str, Any]:
        book = state.channels.setdefault(f"amazon:{store}", {"docs": {}, "feeds": {}})
        if doc not in book["docs"]:
            raise VendorError(404, "NotFound", f"no feed document {doc!r}")
        book["docs"][doc] = await request.body()
        return {}

    @api.post("/feeds/2021-06-30/feeds")
    async def create_feed(store: str, request: Request) -> dict[str, Any]:
        book = await gate(request, store)
        bucket = book.setdefault("bucket", TokenBucket(per_minute=1, burst=5))
        wait = bucket.take()
        if wait:
            state.counters.count(VENDOR, store, "rate_limited")
            raise VendorError(429, "QuotaExceeded", "createFeed", {"Retry-After": str(wait)})
        body = await request.json()
        doc = body.get("inputFeedDocumentId") if isinstance(body, dict) else None
        if body.get("feedType") != "JSON_LISTINGS_FEED" or not book["docs"].get(doc):
            raise bad_request("feedType JSON_LISTINGS_FEED and an uploaded inputFeedDocumentId")
        feed = f"feed-{len(book['feeds']) + 1}"
        book["feeds"][feed] = {"doc": doc, "polls": 0, "result": None}
        return {"feedId": feed}

    @api.get("/feeds/2021-06-30/feeds/{feed}")
    async def get_feed(store: str, feed: str, request: Request) -> dict[str, Any]:
        book = await gate(request, store)
        entry = book["feeds"].get(feed)
        if entry is None:
            raise VendorError(404, "NotFound", f"no feed {feed!r}")
        entry["polls"] += 1
        if entry["polls"] < 2:
            return {"feedId": feed, "processingStatus": "IN_PROGRESS"}
        if entry["result"] is None:
            entry["result"] = _process(state, store, book, book["docs"][entry["doc"]])
        return {"feedId": feed, "processingStatus": "DONE", "resultFeedDocumentId": entry["result"]}

    @api.get("/feeds/2021-06-30/documents/{doc}")
    async def get_document(store: str, doc: str, request: Request) -> dict[str, Any]:
        book = await gate(request, store)
        report = book["docs"].get(doc)
        if not isinstance(report, dict):
            raise VendorError(404, "NotFound", f"no result document {doc!r}")
        return {"feedDocumentId": doc, "report": report}

    return api


def _process(state: SandboxState, store: str, book: dict, raw: bytes) -> str:
    """Apply the feed; its report is a new document."""
    cat = catalogue(state, store)
    before_write(state, cat, VENDOR)
    issues, accepted = [], 0
    try:
        messages = json.loads(raw).get("messages", [])
    except (ValueError, AttributeError):
        messages = None
    if not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
        issues.append({"messageId": 0, "code": "FATAL", "message": "not a listings feed"})
        messages = []
    for m in messages:
        try:
            sku = m["sku"]
            qty = m["patches"][0]["value"][0]["quantity"]
        except (KeyError, IndexError, TypeError):
            sku, qty = None, None
        if sku not in cat.on_hand or not isinstance(qty, int) or qty < 0:
            issues.append({"messageId": m.get("messageId"), "sku": sku, "code": "INVALID"})
            continue
        write(cat, VENDOR, sku, qty)
        accepted += 1
    doc = f"doc-{len(book['docs']) + 1}"
    summary = {"messagesProcessed": len(messages), "messagesAccepted": accepted}
    book["docs"][doc] = {"summary": summary, "issues": issues}
    return doc
