"""One client per sales channel, behind one small interface, plus the store's inventory system.

    read_levels() -> DataFrame[sku, quantity, price, title]   what the channel shows now
    write(changes: {sku: units}) -> WriteResult      in the vendor's batch shape and size
    verify_webhook(body, headers) -> Delivery        the vendor's signature scheme

Every request goes through the call policy (`multistore.calls.Caller`): a slot of the vendor's
shared pool `api:<vendor>` (requests in flight across all stores and workers; pools.yaml),
the service's circuit breaker, then 5xx, 429 and timeouts retried with backoff, 429's Retry-After
honoured; one `ServiceError` line when it gives up. The vendors' rates are per shop or seller
account, so they are paced per store, not by a shared rate: Shopify's client paces itself on the
`X-Shopify-Shop-Api-Call-Limit` header so that its leaky bucket never overflows (no 429s in the
first place).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
import pandas as pd

from multistore import retry
from multistore.calls import NO_POOLS, Caller, Pools
from multistore.channels.webhooks import Delivery, WebhookSecret, verify
from multistore.clock import SYSTEM_CLOCK, Clock
from multistore.pools import CHANNEL_POOLS


@dataclass(frozen=True)
class ChannelConfig:
    """What a channel client needs (built from the channel's block)."""

    base_url: str
    token: str
    store_id: str
    webhook_secret: str = ""
    notification_url: str = ""
    # The custom REST channel's shape (CustomRestClient.DEFAULTS lists the keys).
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class WriteResult:
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class ChannelClient:
    """The shared part: one httpx client, requests under the retry policy, counts of calls."""

    service: ClassVar[str]
    scheme: ClassVar[str] = "custom"
    batch_size: ClassVar[int]
    # Units of each product the allocation holds back from this channel by default. A vendor
    # that takes only absolute quantity writes overwrites a sale made between the sync's stock
    # read and the write landing; the units held back are what such sales may take (per
    # product) without the channels together selling more than on hand. Shopify and Square
    # keep such a sale (compare-and-set, `occurred_at`) and need none.
    default_safety_units: ClassVar[int] = 0

    def __init__(
        self,
        config: ChannelConfig,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = SYSTEM_CLOCK,
        pools: Pools = NO_POOLS,
    ) -> None:
        """`pools`: Prefect's pools in flows (tasks.pools.PREFECT_POOLS); none alone."""
        self.config = config
        self.clock = clock
        self.http = http or httpx.Client(timeout=httpx.Timeout(30.0))
        self.sleep = sleep
        self.calls = 0
        self.throttled = 0
        # When this client's first and latest requests went out (perf_counter; a benchmark
        # measures the vendor's rate over that span).
        self.first_call_at = self.last_call_at = 0.0
        self.caller = Caller(
            self.service,
            store=config.store_id,
            pools=pools,
            pool=CHANNEL_POOLS[self.service],
            sleep=sleep,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.config.base_url.rstrip("/") + path

        def once() -> httpx.Response:
            self.calls += 1
            self.last_call_at = time.perf_counter()
            self.first_call_at = self.first_call_at or self.last_call_at
            response = self.http.request(method, url, headers=self._headers(), **kwargs)
            if response.status_code == 429:
                self.throttled += 1
            response.raise_for_status()
            self._after(response)
            return response

        return self.caller.call(once)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}"}

    def _after(self, response: httpx.Response) -> None:
        """Look at a successful answer (Shopify paces itself here)."""

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        secret = WebhookSecret(
            self.scheme, self.config.webhook_secret, self.config.notification_url
        )
        return verify(secret, body, headers)

    def read_levels(self) -> pd.DataFrame:
        raise NotImplementedError

    def read_orders(self, since: datetime) -> pd.DataFrame | None:
        """``sku, order_id, quantity`` per order line since `since`; None where the client does
        not read the channel's orders."""
        return None

    def write(self, changes: Mapping[str, int]) -> WriteResult:
        raise NotImplementedError

    @staticmethod
    def _batches(items: Iterable[tuple[str, int]], size: int) -> Iterable[list[tuple[str, int]]]:
        batch: list[tuple[str, int]] = []
        for item in items:
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def _levels(rows: list[tuple[str, Any, Any, Any]]) -> pd.DataFrame:
    """sku, quantity, price, title (a price or title the channel does not give is NaN)."""
    frame = pd.DataFrame(rows, columns=["sku", "quantity", "price", "title"])
    frame["quantity"] = pd.to_numeric(frame["quantity"], errors="coerce")
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce")
    return frame


def _at(body: Any, *path: Any) -> Any:
    """`body[path[0]][path[1]]…`, or None where the channel left it out."""
    for key in path:
        try:
            body = body[key]
        except (KeyError, IndexError, TypeError):
            return None
    return body


def _cents(amount: Any) -> float | None:
    return amount / 100 if isinstance(amount, int | float) else None


class ShopifyClient(ChannelClient):
    service = "shopify"
    scheme = "shopify"
    api = "/admin/api/2026-04"
    batch_size = 250
    page_size = 250
    # Leave this much of the bucket free for other callers of the same shop.
    headroom = 2
    leak_per_second = 2.0

    # Rounds of re-read and compare-and-set for an item a sale keeps changing under the write.
    cas_rounds = 5

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self._items: dict[str, int] = {}
        self._read: dict[str, int] = {}  # what each level showed when it was read

    def _headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self.config.token}

    def _after(self, response: httpx.Response) -> None:
        used, _, limit = response.headers.get("x-shopify-shop-api-call-limit", "").partition("/")
        if used.isdigit() and limit.isdigit():
            over = int(used) - (int(limit) - self.headroom)
            if over > 0:  # wait until the bucket has leaked back below the headroom
                self.sleep(over / self.leak_per_second)

    def read_levels(self) -> pd.DataFrame:
        rows: list[tuple[str, Any]] = []
        path: str | None = (
            f"/shopify/{self.config.store_id}/admin/api/2026-04/inventory_levels.json"
        )
        params: dict[str, Any] | None = {"limit": self.page_size}
        while path is not None:
            response = self._request("GET", path, params=params)
            for level in response.json()["inventory_levels"]:
                self._items[level["sku"]] = level["inventory_item_id"]
                self._read[level["sku"]] = level["available"]
                rows.append(
                    (level["sku"], level["available"], level.get("price"), level.get("title"))
                )
            nxt = response.links.get("next", {}).get("url")
            path, params = (httpx.URL(nxt).raw_path.decode(), None) if nxt else (None, None)
        return _levels(rows)

    def read_orders(self, since: datetime) -> pd.DataFrame:
        rows: list[tuple[str, str, int]] = []
        path: str | None = f"/shopify/{self.config.store_id}{self.api}/orders.json"
        params: dict[str, Any] | None = {
            "status": "any",
            "created_at_min": since.isoformat(),
            "limit": self.page_size,
        }
        while path is not None:
            response = self._request("GET", path, params=params)
            for order in response.json()["orders"]:
                rows += [
                    (str(line.get("sku")), str(order["id"]), line.get("quantity"))
                    for line in order.get("line_items", [])
                ]
            nxt = response.links.get("next", {}).get("url")
            path, params = (httpx.URL(nxt).raw_path.decode(), None) if nxt else (None, None)
        return pd.DataFrame(rows, columns=["sku", "order_id", "quantity"])

    def write(self, changes: Mapping[str, int]) -> WriteResult:
        """Compare-and-set (`changeFromQuantity`, GraphQL's `inventorySetQuantities` from API
        2026-04): each level is set only if it still shows what was read. A sale that landed in
        between makes the item stale; it is read again and set to what it shows now plus the
        change the sync meant (target − read), so the sale is kept, never written over."""
        result = WriteResult()
        known = [s for s in changes if s in self._items and s in self._read]
        for sku in set(changes) - set(known):
            result.failed[sku] = "not listed on shopify (read the levels first)"
        meant = {s: changes[s] - self._read[s] for s in known}
        pending = {s: (self._read[s], changes[s]) for s in known}
        for _round in range(self.cas_rounds):
            stale = self._set(pending, result)
            if not stale:
                return result
            now = self._levels_of(stale)
            pending = {s: (now[s], max(now[s] + meant[s], 0)) for s in stale if s in now}
        for sku in pending:
            result.failed[sku] = "shopify: kept changing under the write (sales); next sync"
        return result

    def _set(self, pending: Mapping[str, tuple[int, int]], result: WriteResult) -> list[str]:
        """Set each SKU from → to; returns the SKUs that were stale (changed since read)."""
        path = f"/shopify/{self.config.store_id}{self.api}/inventory_set_quantities.json"
        stale: list[str] = []
        for batch in self._batches(pending.items(), self.batch_size):
            body = {
                "quantities": [
                    {
                        "inventory_item_id": self._items[s],
                        "location_id": 1,
                        "quantity": to,
                        "changeFromQuantity": before,
                    }
                    for s, (before, to) in batch
                ]
            }
            errors = self._request("POST", path, json=body).json().get("userErrors", [])
            codes = {int(e["field"][1]): e.get("code") for e in errors}
            for position, (sku, (_before, to)) in enumerate(batch):
                code = codes.get(position, "")
                if position not in codes:
                    result.written += 1
                    self._read[sku] = to
                elif code == "CHANGE_FROM_QUANTITY_STALE":
                    stale.append(sku)
                else:
                    result.failed[sku] = f"refused by shopify ({code or 'error'})"
        return stale

    def _levels_of(self, skus: list[str]) -> dict[str, int]:
        path = f"/shopify/{self.config.store_id}{self.api}/inventory_levels.json"
        now: dict[str, int] = {}
        for batch in self._batches(((s, self._items[s]) for s in skus), self.page_size):
            ids = ",".join(str(i) for _s, i in batch)
            answer = self._request("GET", path, params={"inventory_item_ids": ids}).json()
            for level in answer["inventory_levels"]:
                now[level["sku"]] = self._read[level["sku"]] = level["available"]
        return now


class SquareClient(ChannelClient):
    service = "square"
    scheme = "square"
    batch_size = 100

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self._as_of: dict[str, str] = {}  # SKU → the `calculated_at` of the count read

    def read_levels(self) -> pd.DataFrame:
        rows: list[tuple[str, Any]] = []
        path = f"/square/{self.config.store_id}/v2/inventory/counts/batch-retrieve"
        cursor: str | None = None
        while True:
            answer = self._request("POST", path, json={"cursor": cursor, "limit": 1000}).json()
            rows += [
                (
                    c["catalog_object_id"],
                    c["quantity"],
                    _cents(_at(c, "price_money", "amount")),
                    c.get("item_name"),
                )
                for c in answer["counts"]
            ]
            self._as_of.update(
                (c["catalog_object_id"], c["calculated_at"])
                for c in answer["counts"]
                if c.get("calculated_at")
            )
            cursor = answer.get("cursor")
            if not cursor:
                return _levels(rows)

    def read_orders(self, since: datetime) -> pd.DataFrame:
        """Square's Orders API (`orders/search`, created since `since`), one row per line."""
        rows: list[tuple[str, str, Any]] = []
        path = f"/square/{self.config.store_id}/v2/orders/search"
        query = {"filter": {"date_time_filter": {"created_at": {"start_at": since.isoformat()}}}}
        cursor: str | None = None
        while True:
            body = {"query": query, "limit": 500, "cursor": cursor}
            answer = self._request("POST", path, json=body).json()
            for order in answer.get("orders", []):
                rows += [
                    (
                        str(line.get("catalog_object_id")),
                        str(order["id"]),
                        pd.to_numeric(line.get("quantity"), errors="coerce"),
                    )
                    for line in order.get("line_items", [])
                ]
            cursor = answer.get("cursor")
            if not cursor:
                return pd.DataFrame(rows, columns=["sku", "order_id", "quantity"])

    def write(self, changes: Mapping[str, int]) -> WriteResult:
        """PHYSICAL_COUNTs stamped with the time of the count they replace (the read's
        `calculated_at`): Square orders changes by `occurred_at`, so a sale made after the read
        still comes off the new count instead of being written over."""
        result = WriteResult()
        path = f"/square/{self.config.store_id}/v2/inventory/changes/batch-create"
        now = datetime.now(UTC).isoformat()
        for batch in self._batches(changes.items(), self.batch_size):
            # One key per batch, made before the first try: a retried batch is applied once.
            body = {
                "idempotency_key": str(uuid.uuid4()),
                "changes": [
                    {
                        "type": "PHYSICAL_COUNT",
                        "physical_count": {
                            "catalog_object_id": s,
                            "quantity": str(q),
                            "state": "IN_STOCK",
                            "occurred_at": self._as_of.get(s, now),
                        },
                    }
                    for s, q in batch
                ],
            }
            self._request("POST", path, json=body)
            result.written += len(batch)
        return result


EBAY_TIME = ZoneInfo("America/Los_Angeles")


class EbayClient(ChannelClient):
    service = "ebay"
    batch_size = 25
    # bulk_update_price_quantity sets absolute quantities, with no condition on what was read.
    default_safety_units = 1

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.limited_until: dict[str, datetime] = {}  # SKU → when eBay takes revisions again

    def read_levels(self) -> pd.DataFrame:
        rows: list[tuple[str, Any]] = []
        path: str | None = f"/ebay/{self.config.store_id}/sell/inventory/v1/inventory_item"
        params: dict[str, Any] | None = {"limit": 200, "offset": 0}
        while path is not None:
            answer = self._request("GET", path, params=params).json()
            rows += [
                (
                    i["sku"],
                    i["availability"]["shipToLocationAvailability"]["quantity"],
                    _at(i, "price", "value"),
                    _at(i, "product", "title"),
                )
                for i in answer["inventoryItems"]
            ]
            nxt = answer.get("next")
            path, params = (httpx.URL(nxt).raw_path.decode(), None) if nxt else (None, None)
        return _levels(rows)

    def write(self, changes: Mapping[str, int]) -> WriteResult:
        """A listing eBay refused for its daily revision limit is not sent again until eBay's
        next day (midnight Pacific, on the injected clock): no call is spent on it before."""
        result = WriteResult()
        path = f"/ebay/{self.config.store_id}/sell/inventory/v1/bulk_update_price_quantity"
        now = self.clock.now()
        sendable = []
        for sku, q in changes.items():
            until = self.limited_until.get(sku)
            if until is not None and now < until:
                result.failed[sku] = f"ebay: revision limit for today, until {until.isoformat()}"
            else:
                sendable.append((sku, q))
        for batch in self._batches(sendable, self.batch_size):
            body = {
                "requests": [
                    {"sku": s, "shipToLocationAvailability": {"quantity": q}} for s, q in batch
                ]
            }
            for answer in self._request("POST", path, json=body).json()["responses"]:
                sku = str(answer.get("sku"))
                if answer.get("statusCode") == 200:
                    result.written += 1
                    continue
                # a partial failure: the others in the call stand
                errors = answer.get("errors") or ["refused"]
                if "revision limit" in errors:
                    self.limited_until[sku] = next_ebay_day(now)
                result.failed[sku] = f"ebay: {'; '.join(errors)}"
        return result


def next_ebay_day(now: datetime) -> datetime:
    """When eBay's day after `now` begins (eBay keeps official time in US Pacific time)."""
    local = now.astimezone(EBAY_TIME)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), EBAY_TIME)
    return midnight.astimezone(UTC)


class AmazonClient(ChannelClient):
    """SP-API: one JSON_LISTINGS_FEED per ≤ 25,000 changes (create document, upload, create feed,
    poll, read the report); the report's issues are the SKUs that failed."""

    service = "amazon"
    batch_size = 25_000
    # A feed replaces the quantity when Amazon processes it, minutes after it was sent: a wider
    # window than one synchronous call, so more sales may fall in it.
    default_safety_units = 2
    poll_seconds = 1.0
    max_polls = 600

    def _headers(self) -> dict[str, str]:
        return {"x-amz-access-token": self.config.token}

    def read_levels(self) -> pd.DataFrame:
        rows: list[tuple[str, Any]] = []
        token: int | None = 0
        path = f"/amazon/{self.config.store_id}/listings/2021-08-01/items"
        while token is not None:
            answer = self._request("GET", path, params={"pageSize": 1000, "pageToken": token})
            body = answer.json()
            rows += [
                (
                    i["sku"],
                    i["fulfillmentAvailability"][0]["quantity"],
                    _at(i, "offers", 0, "price", "amount"),
                    _at(i, "summaries", 0, "itemName"),
                )
                for i in body["items"]
            ]
            token = body.get("pagination", {}).get("nextToken")
        return _levels(rows)

    def write(self, changes: Mapping[str, int]) -> WriteResult:
        result = WriteResult()
        for batch in self._batches(changes.items(), self.batch_size):
            report = self._feed(batch)
            bad = {str(i.get("sku")) for i in report.get("issues", [])}
            for sku, _q in batch:
                if sku in bad:
                    result.failed[sku] = "amazon: rejected by the feed"
                else:
                    result.written += 1
        return result

    def _feed(self, batch: list[tuple[str, int]]) -> dict[str, Any]:
        base = f"/amazon/{self.config.store_id}/feeds/2021-06-30"
        doc = self._request("POST", f"{base}/documents", json={"contentType": "application/json"})
        messages = [
            {
                "messageId": n,
                "sku": sku,
                "operationType": "PATCH",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": q}],
                    }
                ],
            }
            for n, (sku, q) in enumerate(batch, start=1)
        ]
        upload = httpx.URL(doc.json()["url"]).raw_path.decode()
        self._request("PUT", upload, content=json.dumps({"messages": messages}).encode())
        feed = self._request(
            "POST",
            f"{base}/feeds",
            json={
                "feedType": "JSON_LISTINGS_FEED",
                "inputFeedDocumentId": doc.json()["feedDocumentId"],
            },
        ).json()["feedId"]
        for _ in range(self.max_polls):
            status = self._request("GET", f"{base}/feeds/{feed}").json()
            if status["processingStatus"] == "DONE":
                result = status["resultFeedDocumentId"]
                return self._request("GET", f"{base}/documents/{result}").json()["report"]
            if status["processingStatus"] in ("CANCELLED", "FATAL"):
                raise retry.ServiceError(
                    f"amazon for store {self.config.store_id}: feed {feed} "
                    f"{status['processingStatus']}",
                    service=self.service,
                )
            self.sleep(self.poll_seconds)
        raise retry.ServiceError(
            f"amazon for store {self.config.store_id}: feed {feed} not done after "
            f"{self.max_polls} polls",
            service=self.service,
        )


class CustomRestClient(ChannelClient):
    """A REST channel described by its block: URL templates, auth header, field mapping."""

    service = "custom"
    # A generic REST write is assumed absolute (no condition on what was read).
    default_safety_units = 1
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "read_path": "/custom/{store}/api/stock?page={page}",
        "write_path": "/custom/{store}/api/stock/bulk",
        "write_method": "PUT",
        "auth_header": "X-Custom-Key",
        "items_key": "data",
        "next_key": "next_page",
        "updates_key": "updates",
        "sku_field": "item_code",
        "quantity_field": "qty",
        "price_field": "unit_price",
        "title_field": "name",
        "rejected_key": "rejected",
        "batch_size": 50,
    }

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.shape = {**self.DEFAULTS, **dict(config.custom)}
        self.batch_size = int(self.shape["batch_size"])  # type: ignore[misc]

    def _headers(self) -> dict[str, str]:
        return {self.shape["auth_header"]: self.config.token}

    def read_levels(self) -> pd.DataFrame:
        rows: list[tuple[str, Any]] = []
        page: Any = 0
        shape = self.shape
        while page is not None:
            path = shape["read_path"].format(store=self.config.store_id, page=page)
            body = self._request("GET", path).json()
            rows += [
                (
                    i[shape["sku_field"]],
                    i[shape["quantity_field"]],
                    i.get(shape["price_field"]),
                    i.get(shape["title_field"]),
                )
                for i in body[shape["items_key"]]
            ]
            page = body.get(shape["next_key"])
        return _levels(rows)

    def write(self, changes: Mapping[str, int]) -> WriteResult:
        result = WriteResult()
        shape = self.shape
        path = shape["write_path"].format(store=self.config.store_id)
        for batch in self._batches(changes.items(), self.batch_size):
            updates = [{shape["sku_field"]: s, shape["quantity_field"]: q} for s, q in batch]
            body = self._request(shape["write_method"], path, json={shape["updates_key"]: updates})
            rejected = {str(s) for s in body.json().get(shape["rejected_key"], [])}
            for sku, _q in batch:
                if sku in rejected:
                    result.failed[sku] = "custom: rejected"
                else:
                    result.written += 1
        return result


class StockroomClient(ChannelClient):
    """The store's inventory system: on hand, price and title per SKU (read only)."""

    service = "stockroom"
    batch_size = 5000

    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": self.config.token}

    def read_stock(self) -> pd.DataFrame:
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            answer = self._request(
                "GET",
                f"/stockroom/{self.config.store_id}/stock",
                params={"offset": offset, "limit": self.batch_size},
            ).json()
            items += answer["items"]
            offset = answer.get("next_offset")
        frame = pd.DataFrame(items, columns=["sku", "on_hand", "price", "title"])
        return frame.set_index("sku")


CLIENTS: dict[str, type[ChannelClient]] = {
    "shopify": ShopifyClient,
    "square": SquareClient,
    "ebay": EbayClient,
    "amazon": AmazonClient,
    "custom": CustomRestClient,
}
