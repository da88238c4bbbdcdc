"""Inventory feeds per dealer (`inventory-<store_id>`) and the shared URL shortener
(`shortener-default`)."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class InventorySources(Block):
    """Where a dealer's HomeNet and Dealer.com inventory lives."""

    _block_type_name = "Inventory Sources"
    _block_type_slug = "inventory-sources"
    _description = "A dealer's inventory feeds (HomeNet IOL CSV, Dealer.com listing)."

    base_url: str = Field(description="Base URL serving /homenet/… and /dealercom/…")
    dealer_id: str = Field(description="The dealer's id at the feed vendors")
    homenet_key: SecretStr = Field(description="HomeNet feed key")


class ShortenerService(Block):
    """The URL shortener used for vehicle detail page links."""

    _block_type_name = "Shortener Service"
    _block_type_slug = "shortener-service"
    _description = "A URL shortening service: base URL and API key."

    base_url: str = Field(
        description="The shortener's base URL (POST <base_url>/shortener/shorten)"
    )
    api_key: SecretStr = Field(description="Sent as the `X-API-Key` header")
