"""The channel routes of `multistore serve`: signed webhooks and reservations for order systems.

    POST /channels/{store}/webhooks/{channel}        a vendor's webhook (signed)
    POST /channels/{store}/reservations              {sku, quantity, order_id, hold_seconds?}
    POST /channels/reservations/{id}/confirm
    POST /channels/reservations/{id}/release

A webhook is verified on the raw body before anything else; a bad signature is 401 and stores
nothing; a verified one is committed to the registry, then acknowledged (200 ``stored``), and a
replay of a stored delivery is acknowledged as ``duplicate`` without storing it again (vendors
retry until they see a 2xx). The secret comes from `app.state.channel_secrets(store, channel)`
(default: `BlockSecrets`, the channel's block read from the Prefect server).

Verified deliveries are committed in batches (`InboxWriter`): all those that arrived while the
previous batch was being written go in the next, in one transaction, so a burst costs one disk
flush per batch, not one per webhook. At most `WEBHOOK_QUEUE` wait; past that the answer is 503
with Retry-After, and the vendor delivers again (as it does for any answer but a 2xx): the
service sheds load rather than queue without bound.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from multistore.channels.reservations import Hold, ReservationError, Reservations
from multistore.channels.stores import StoreChannels
from multistore.channels.webhooks import (
    SCHEME_OF_TYPE,
    Delivery,
    WebhookInbox,
    WebhookRejected,
    WebhookSecret,
    verify,
)
from multistore.prefect_api import PrefectAPI, PrefectUnavailable

router = APIRouter(prefix="/channels", tags=["channels"])

SecretLookup = Callable[[str, str], WebhookSecret | None]

# Verified deliveries waiting to be stored, at most; and at most this many per transaction.
WEBHOOK_QUEUE = 1000
WEBHOOK_BATCH = 250
Item = tuple[str, str, Delivery, bytes]


class InboxWriter:
    """Stores the deliveries of one event loop in batches (see the module docstring)."""

    def __init__(self, inbox: WebhookInbox, limit: int | None = None) -> None:
        self.inbox = inbox
        self.limit = WEBHOOK_QUEUE if limit is None else limit
        self.waiting: list[tuple[Item, asyncio.Future[bool]]] = []
        self.drain: asyncio.Task[None] | None = None

    async def store(self, item: Item) -> bool | None:
        """True: stored; False: a replay already stored; None: the queue is full."""
        if len(self.waiting) >= self.limit:
            return None
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, done))
        if self.drain is None or self.drain.done():
            self.drain = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self.waiting:
            batch = self.waiting[:WEBHOOK_BATCH]
            del self.waiting[:WEBHOOK_BATCH]
            try:
                stored = await asyncio.to_thread(self.inbox.store_many, [i for i, _ in batch])
            except Exception as exc:  # each waiting request answers it (a 500), none is lost
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), ok in zip(batch, stored, strict=True):
                if not done.done():  # the sender may have hung up
                    done.set_result(ok)


def _writer(request: Request) -> InboxWriter:
    state = request.app.state
    writers = getattr(state, "webhook_writers", None)
    if writers is None:
        writers = state.webhook_writers = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    if loop not in writers:
        writers[loop] = InboxWriter(WebhookInbox(state.registry_url, clock=state.clock))
    return writers[loop]


BLOCK_TYPE_SLUG = "sales-channel"


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


@router.post("/{store_id}/webhooks/{channel}")
async def webhook(store_id: str, channel: str, request: Request) -> JSONResponse:
    body = await request.body()  # the raw bytes the vendor signed, before any parsing
    state = request.app.state
    lookup: SecretLookup | None = getattr(state, "channel_secrets", None)
    if lookup is None:
        lookup = state.channel_secrets = BlockSecrets(
            state.registry_url, state.prefect or PrefectAPI()
        )
    try:
        secret = await asyncio.to_thread(lookup, store_id, channel)
    except PrefectUnavailable as exc:
        return _error(503, str(exc))
    if secret is None:
        return _error(404, f"store {store_id}: no channel {channel!r} taking webhooks")
    try:
        delivery = verify(secret, body, request.headers)
    except WebhookRejected as exc:
        return _error(exc.status, str(exc))
    stored = await _writer(request).store((store_id, channel, delivery, body))
    if stored is None:
        return JSONResponse(
            {"error": "too many webhooks waiting to be stored; deliver again"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse(
        {"status": "stored" if stored else "duplicate", "delivery_id": delivery.delivery_id}
    )


@router.post("/{store_id}/reservations")
async def reserve(store_id: str, request: Request) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "body: not JSON")
    if not isinstance(body, dict):
        return _error(400, "body: a JSON object with sku, quantity, order_id")
    sku, quantity, order_id = body.get("sku"), body.get("quantity"), body.get("order_id")
    hold = body.get("hold_seconds", 900)
    if not isinstance(sku, str) or not isinstance(order_id, str):
        return _error(400, "sku and order_id: required strings")
    if not isinstance(hold, (int, float)) or isinstance(hold, bool) or hold <= 0:
        return _error(400, "hold_seconds: a number > 0")
    book = Reservations(request.app.state.registry_url, clock=request.app.state.clock)
    try:
        held = await asyncio.to_thread(
            book.reserve, store_id, sku, quantity, order_id, hold=timedelta(seconds=hold)
        )
    except ReservationError as exc:
        status = 400 if str(exc).startswith("quantity") else 409
        return _error(status, str(exc))
    return JSONResponse(_hold(held), status_code=201)


@router.post("/reservations/{reservation_id}/{action}")
async def move(reservation_id: int, action: str, request: Request) -> JSONResponse:
    book = Reservations(request.app.state.registry_url, clock=request.app.state.clock)
    step = {"confirm": book.confirm, "release": book.release}.get(action)
    if step is None:
        return _error(404, f"action: {action!r} is not confirm or release")
    try:
        held = await asyncio.to_thread(step, reservation_id)
    except ReservationError as exc:
        return _error(404 if "not found" in str(exc) else 409, str(exc))
    return JSONResponse(_hold(held))


def _hold(held: Hold) -> dict[str, Any]:
    data = dict(held.__dict__)
    data["expires_at"] = None if held.expires_at is None else held.expires_at.isoformat()
    return data


class BlockSecrets:
    """Secrets from each channel's block (the document `multistore channels connect` names),
    read from the Prefect server and kept `ttl` seconds, so a rotated secret is in use within
    a minute without restarting the service."""

    def __init__(self, registry_url: str | None, prefect: PrefectAPI, ttl: float = 60.0) -> None:
        self.registry_url, self.prefect, self.ttl = registry_url, prefect, ttl
        self._cache: dict[tuple[str, str], tuple[float, WebhookSecret | None]] = {}

    def __call__(self, store_id: str, channel: str) -> WebhookSecret | None:
        now = time.monotonic()
        cached = self._cache.get((store_id, channel))
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        secret = self._read(store_id, channel)
        self._cache[(store_id, channel)] = (now, secret)
        return secret

    def _read(self, store_id: str, channel: str) -> WebhookSecret | None:
        rows = StoreChannels(self.registry_url).list(store_id)
        row = next((c for c in rows if c.name == channel), None)
        if row is None or not row.enabled:
            return None
        data = self.prefect.block_document(BLOCK_TYPE_SLUG, row.block)
        secret = data.get("webhook_secret")
        if not secret:
            return None
        return WebhookSecret(
            SCHEME_OF_TYPE[row.type], str(secret), str(data.get("notification_url") or "")
        )
