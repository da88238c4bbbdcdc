"""A store's sales channel (or its inventory system): endpoint and secrets, one document per
store and channel (named by `multistore channels connect --block`, default `<type>-<store>`; the
inventory system's is `stockroom-<store>`). `get_client(store_id, pools=…)` builds the channel's
client."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from multistore.calls import Pools
from multistore.channels.connectors import CLIENTS, ChannelClient, ChannelConfig, StockroomClient

TYPES = (*CLIENTS, "stockroom")


class SalesChannel(Block):
    """Where a channel's API is and the secrets it needs; Prefect keeps SecretStr fields
    encrypted at rest in its database (docs/channel-sync.md)."""

    _block_type_name = "Sales Channel"
    _block_type_slug = "sales-channel"
    _description = (
        "A sales channel (Shopify, Square, eBay, Amazon, custom REST) or a store's stock."
    )

    type: str = Field(description="shopify, square, ebay, amazon, custom or stockroom")
    base_url: str = Field(description="The channel API's base URL")
    api_token: SecretStr = Field(description="The API access token")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Verifies the channel's webhooks (HMAC key / shared secret)"
    )
    notification_url: str | None = Field(
        default=None, description="Square: the notification URL its signatures include"
    )
    custom: dict[str, Any] = Field(
        default_factory=dict,
        description="Custom REST: read_path, write_path, auth_header, sku_field, … (see "
        "CustomRestClient.DEFAULTS)",
    )

    def get_client(self, store_id: str, *, pools: Pools, **options: Any) -> ChannelClient:
        """The channel's client for `store_id`, its calls under the vendor's shared pool
        (`options`: http, sleep, clock)."""
        if self.type not in TYPES:
            raise ValueError(f"sales channel: unknown type {self.type!r} (one of {TYPES})")
        config = ChannelConfig(
            base_url=self.base_url,
            token=self.api_token.get_secret_value(),
            store_id=store_id,
            webhook_secret=self.webhook_secret.get_secret_value() if self.webhook_secret else "",
            notification_url=self.notification_url or "",
            custom=self.custom,
        )
        cls = StockroomClient if self.type == "stockroom" else CLIENTS[self.type]
        return cls(config, pools=pools, **options)
