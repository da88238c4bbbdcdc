"""Webhooks and reservations over HTTP (the real app in-process): for each scheme a good
signature is stored once, a replay is acknowledged and not stored again, a bad one is 401 and
stores nothing; deliveries coalesce into one pending sync per store and channel."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from multistore.channels.reservations import Reservations
from multistore.channels.webhooks import Delivery, WebhookInbox, WebhookSecret, sign
from multistore.prefect_api import PrefectAPI
from multistore.service import create_app

SECRETS = {
    "web": WebhookSecret("shopify", "shp-secret"),
    "pos": WebhookSecret("square", "sq-key", "https://hooks.example.com/channels/s1/pos"),
    "rest": WebhookSecret("custom", "shared"),
}


@pytest.fixture
def client() -> TestClient:
    app = create_app(prefect=PrefectAPI(""))
    app.state.channel_secrets = lambda store, channel: SECRETS.get(channel)
    return TestClient(app)


def delivery(channel: str, n: int) -> tuple[bytes, dict[str, str]]:
    secret = SECRETS[channel]
    if secret.scheme == "square":
        body = json.dumps({"event_id": f"ev-{n}", "type": "inventory.count.updated"}).encode()
        return body, sign(secret, body)
    body = json.dumps({"inventory_item_id": n, "available": 3}).encode()
    ids = (
        {"X-Shopify-Webhook-Id": f"wh-{n}", "X-Shopify-Topic": "inventory_levels/update"}
        if secret.scheme == "shopify"
        else {"X-Multistore-Delivery": f"d-{n}"}
    )
    return body, {**sign(secret, body), **ids}


@pytest.mark.parametrize("channel", ["web", "pos", "rest"])
def test_good_replayed_and_bad_signatures(client: TestClient, channel: str) -> None:
    url = f"/channels/s1/webhooks/{channel}"
    body, headers = delivery(channel, 1)
    first = client.post(url, content=body, headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "stored"
    replay = client.post(url, content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"

    tampered = body.replace(b"1", b"2")  # the same headers on another body
    assert client.post(url, content=tampered, headers=headers).status_code == 401
    other, other_headers = delivery(channel, 2)
    name = next(iter(sign(SECRETS[channel], b"")))
    forged = {
        **other_headers,
        name: sign(WebhookSecret(SECRETS[channel].scheme, "wrong"), other)[name],
    }
    bad = client.post(url, content=other, headers=forged)
    assert bad.status_code == 401 and "bad or missing signature" in bad.json()["error"]
    unsigned = {k: v for k, v in other_headers.items() if k != name}
    assert client.post(url, content=other, headers=unsigned).status_code == 401

    inbox = WebhookInbox()
    assert inbox.count("s1") == 1  # only the good one, once
    assert inbox.pending() == {("s1", channel): 1}


def test_square_signature_covers_the_notification_url(client: TestClient) -> None:
    body, _ = delivery("pos", 7)
    elsewhere = WebhookSecret("square", "sq-key", "https://attacker.example.com/hook")
    answer = client.post("/channels/s1/webhooks/pos", content=body, headers=sign(elsewhere, body))
    assert answer.status_code == 401


def test_malformed_and_unknown(client: TestClient) -> None:
    secret = SECRETS["pos"]
    body = b"not json"
    answer = client.post("/channels/s1/webhooks/pos", content=body, headers=sign(secret, body))
    assert answer.status_code == 400 and "not JSON" in answer.json()["error"]
    body, headers = delivery("web", 3)
    headers.pop("X-Shopify-Webhook-Id")
    assert (
        client.post("/channels/s1/webhooks/web", content=body, headers=headers).status_code == 400
    )
    assert client.post("/channels/s1/webhooks/etsy", content=b"{}").status_code == 404
    assert WebhookInbox().count() == 0


def test_many_deliveries_coalesce_into_one_sync_per_store_and_channel(client: TestClient) -> None:
    for n in range(5):
        body, headers = delivery("web", n)
        client.post("/channels/s1/webhooks/web", content=body, headers=headers)
    body, headers = delivery("rest", 9)
    client.post("/channels/s2/webhooks/rest", content=body, headers=headers)
    inbox = WebhookInbox()
    assert inbox.pending() == {("s1", "web"): 5, ("s2", "rest"): 1}
    assert inbox.claim("s1", "web") == 5
    assert inbox.claim("s1", "web") == 0  # a second sync finds nothing to do
    assert inbox.pending() == {("s2", "rest"): 1}


def test_reservations_over_http(client: TestClient) -> None:
    Reservations().set_on_hand("s1", {"A": 2})
    made = client.post(
        "/channels/s1/reservations", json={"sku": "A", "quantity": 2, "order_id": "o1"}
    )
    assert made.status_code == 201
    refused = client.post(
        "/channels/s1/reservations", json={"sku": "A", "quantity": 1, "order_id": "o2"}
    )
    assert refused.status_code == 409 and "0 available" in refused.json()["error"]
    rid = made.json()["id"]
    assert client.post(f"/channels/reservations/{rid}/confirm").json()["status"] == "confirmed"
    assert client.post(f"/channels/reservations/{rid}/release").json()["status"] == "released"
    assert client.post(f"/channels/reservations/{rid}/release").status_code == 409
    assert client.post("/channels/reservations/999/release").status_code == 404
    bad = client.post(
        "/channels/s1/reservations", json={"sku": "A", "quantity": "2", "order_id": "o"}
    )
    assert bad.status_code == 400


async def test_deliveries_arriving_together_are_stored_in_batches_once_each() -> None:
    """Deliveries waiting together go in one transaction; a delivery sent twice in the same
    batch, or again after it, is stored once."""
    from multistore import api_channels

    inbox = WebhookInbox()
    batches: list[int] = []
    store_many = inbox.store_many

    def counted(items):  # type: ignore[no-untyped-def]
        batches.append(len(items))
        return store_many(items)

    inbox.store_many = counted  # type: ignore[method-assign]
    writer = api_channels.InboxWriter(inbox)
    items = [("s1", "web", Delivery(f"b-{n % 40}", None), b"{}") for n in range(50)]
    answers = await asyncio.gather(*(writer.store(item) for item in items))
    assert answers == [True] * 40 + [False] * 10
    assert sum(batches) == 50 and len(batches) < 50
    assert await writer.store(items[0]) is False
    assert inbox.pending() == {("s1", "web"): 40}


def test_a_full_queue_answers_503_with_retry_after_and_stores_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multistore import api_channels

    monkeypatch.setattr(api_channels, "WEBHOOK_QUEUE", 0)
    body, headers = delivery("web", 7)
    full = client.post("/channels/s1/webhooks/web", content=body, headers=headers)
    assert full.status_code == 503 and full.headers["retry-after"] == "1"
    assert WebhookInbox().pending() == {}
