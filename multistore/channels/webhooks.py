"""Signed webhooks from the channels: verified on the raw body in constant time, stored once per
delivery before they are acknowledged, and coalesced into one pending sync per store and channel.

Schemes (the vendors' own, DOMAIN_NOTES "Sales channels"):

- ``shopify``: ``X-Shopify-Hmac-SHA256`` = base64(HMAC-SHA256(app secret, raw body)); delivery id
  ``X-Shopify-Webhook-Id``; topic ``X-Shopify-Topic``.
- ``square``: ``x-square-hmacsha256-signature`` = base64(HMAC-SHA256(signature key,
  notification URL + raw body)); delivery id = the body's ``event_id``; topic its ``type``.
- ``custom`` (and eBay, Amazon relayed through it): ``X-Multistore-Signature: sha256=<hex
  HMAC-SHA256(shared secret, raw body)>``; delivery id ``X-Multistore-Delivery``; topic
  ``X-Multistore-Topic``.

A bad or missing signature is refused before anything is read from the body or stored. The
signature is checked before the body is parsed: a forged body is never interpreted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from multistore.channels.tables import WebhookDelivery
from multistore.db import get_engine
from multistore.models import utcnow

SCHEME_OF_TYPE = {
    "shopify": "shopify",
    "square": "square",
    "ebay": "custom",
    "amazon": "custom",
    "custom": "custom",
}


class WebhookRejected(ValueError):
    """Refused; `status` is the HTTP answer (401 bad signature, 400 malformed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class WebhookSecret:
    """What verifies one channel's webhooks: its scheme, secret and (Square) notification URL."""

    scheme: str
    secret: str
    notification_url: str = ""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    topic: str | None


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def sign(secret: WebhookSecret, body: bytes) -> dict[str, str]:
    """The signature headers a vendor would send for `body` (the sandbox and tests use it)."""
    if secret.scheme == "shopify":
        return {"X-Shopify-Hmac-SHA256": base64.b64encode(_mac(secret.secret, body)).decode()}
    if secret.scheme == "square":
        mac = _mac(secret.secret, secret.notification_url.encode() + body)
        return {"x-square-hmacsha256-signature": base64.b64encode(mac).decode()}
    return {"X-Multistore-Signature": "sha256=" + _mac(secret.secret, body).hex()}


def verify(secret: WebhookSecret, body: bytes, headers: Mapping[str, str]) -> Delivery:
    """Check the signature on the raw `body`, then read the delivery id; WebhookRejected if not."""
    lower = {k.lower(): v for k, v in headers.items()}
    expected = next(iter(sign(secret, body).items()))
    given = lower.get(expected[0].lower(), "")
    # compare_digest: the time taken does not tell a forger how much of the signature was right.
    if not given or not hmac.compare_digest(given.encode(), expected[1].encode()):
        raise WebhookRejected(401, f"{secret.scheme} webhook: bad or missing signature")
    if secret.scheme == "shopify":
        delivery, topic = lower.get("x-shopify-webhook-id"), lower.get("x-shopify-topic")
    elif secret.scheme == "square":
        try:
            payload = json.loads(body)
        except ValueError:
            raise WebhookRejected(400, "square webhook: body is not JSON") from None
        payload = payload if isinstance(payload, dict) else {}
        delivery, topic = payload.get("event_id"), payload.get("type")
    else:
        delivery, topic = lower.get("x-multistore-delivery"), lower.get("x-multistore-topic")
    if not isinstance(delivery, str) or not delivery.strip():
        raise WebhookRejected(400, f"{secret.scheme} webhook: no delivery id")
    return Delivery(delivery.strip()[:200], None if topic is None else str(topic)[:200])


def _insert_ignoring_duplicates(dialect: str) -> Any:
    """INSERT … ON CONFLICT (store, channel, delivery id) DO NOTHING, in the registry's dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(WebhookDelivery.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["store_id", "channel", "delivery_id"]
    )


class WebhookInbox:
    """Verified deliveries in the registry at `url`: stored once, then claimed by a sync."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = get_engine(url)
        self.clock = clock

    def store(self, store_id: str, channel: str, delivery: Delivery, body: bytes) -> bool:
        """Persist the delivery (committed before the caller answers 2xx); False if it was
        already stored (a replay: acknowledged, not stored again)."""
        return self.store_many([(store_id, channel, delivery, body)])[0]

    def store_many(self, items: Sequence[tuple[str, str, Delivery, bytes]]) -> list[bool]:
        """`store` for many deliveries in one transaction (one commit, so one disk flush, for
        all of them: what lets the service keep up with bursts); stored or not, per item."""
        if not items:
            return []
        insert = _insert_ignoring_duplicates(self.engine.dialect.name)
        now = self.clock()
        stored = []
        with self.engine.begin() as conn:
            for store_id, channel, delivery, body in items:
                done = conn.execute(
                    insert.values(
                        store_id=store_id,
                        channel=channel,
                        delivery_id=delivery.delivery_id,
                        topic=delivery.topic,
                        body=body.decode("utf-8", errors="replace"),
                        received_at=now,
                    )
                )
                stored.append(done.rowcount == 1)
        return stored

    def pending(self) -> dict[tuple[str, str], int]:
        """Deliveries waiting for a sync, per (store, channel): one sync each, however many."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(WebhookDelivery.store_id, WebhookDelivery.channel, func.count())
                .where(col(WebhookDelivery.synced_at).is_(None))
                .group_by(WebhookDelivery.store_id, WebhookDelivery.channel)
            ).all()
        return {(store, channel): int(n) for store, channel, n in rows}

    def claim(self, store_id: str, channel: str) -> int:
        """Mark the store's channel's pending deliveries as taken by the sync starting now;
        returns how many (0: another sync took them, nothing to do)."""
        with Session(self.engine) as session:
            claimed = session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.store_id) == store_id,
                    col(WebhookDelivery.channel) == channel,
                    col(WebhookDelivery.synced_at).is_(None),
                )
                .values(synced_at=self.clock())
            )
            session.commit()
            return int(claimed.rowcount or 0)

    def count(self, store_id: str | None = None) -> int:
        query = select(func.count()).select_from(WebhookDelivery)
        if store_id is not None:
            query = query.where(WebhookDelivery.store_id == store_id)
        with Session(self.engine) as session:
            return int(session.exec(query).one())
