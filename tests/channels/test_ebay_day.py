"""eBay's 250 revisions a listing a day start again at eBay's day boundary (midnight Pacific):
the sandbox keeps the count by its (moved) clock, and the client, on its injected clock, spends
no call on a listing at the limit until eBay's next day."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from multistore.channels.connectors import ChannelConfig, EbayClient, next_ebay_day
from multistore.clock import ManualClock
from sandbox import credentials

STORE = "store-0011"


def test_the_revision_limit_starts_again_at_ebays_next_day(sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.admin.configure(products_per_store=5)
    now = datetime.fromtimestamp(time.time(), UTC)
    clock = ManualClock(now)
    client = EbayClient(ChannelConfig(sandbox.url, credentials.CHANNEL_TOKEN, STORE), clock=clock)
    for n in range(10):  # 10 calls × the same listing 25 times = 250 revisions today
        assert (
            client._request(
                "POST",
                f"/ebay/{STORE}/sell/inventory/v1/bulk_update_price_quantity",
                json={
                    "requests": [{"sku": "P-000001", "shipToLocationAvailability": {"quantity": n}}]
                    * 25
                },
            ).json()["responses"][-1]["statusCode"]
            == 200
        )

    refused = client.write({"P-000001": 7, "P-000002": 3})
    assert refused.written == 1 and "revision limit" in refused.failed["P-000001"]
    calls = client.calls
    again = client.write({"P-000001": 7})  # still today: refused without a call
    assert client.calls == calls and "until" in again.failed["P-000001"]

    midnight = next_ebay_day(now)
    assert midnight.astimezone(UTC).hour in (7, 8)  # midnight Pacific, PDT or PST
    to_midnight = (midnight - now).total_seconds() + 1
    sandbox.admin.advance_clock(to_midnight)
    clock.advance(to_midnight)
    tomorrow = client.write({"P-000001": 7})
    assert tomorrow.written == 1 and not tomorrow.failed
    assert sandbox.admin.channels_truth(STORE)["levels"]["ebay"]["P-000001"] == 7
