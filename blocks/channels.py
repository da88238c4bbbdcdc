"""A store's sales channel: endpoint and secrets, one document per store and channel (named in
`multistore channels connect --block`, default `<type>-<store>`)."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class SalesChannel(Block):
    """Where a channel's API is and the secrets it needs; Prefect keeps SecretStr fields
    encrypted at rest in its database (docs/channel-sync.md)."""

    _block_type_name = "Sales Channel"
    _block_type_slug = "sales-channel"
    _description = "A sales channel (Shopify, Square, eBay, Amazon, custom REST): URL and secrets."

    type: str = Field(description="shopify, square, ebay, amazon or custom")
    base_url: str = Field(description="The channel API's base URL")
    api_token: SecretStr = Field(description="The API access token")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Verifies the channel's webhooks (HMAC key / shared secret)"
    )
    notification_url: str | None = Field(
        default=None, description="Square: the notification URL its signatures include"
    )
