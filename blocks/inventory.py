"""Inventory feeds per dealer (`inventory-<store_id>`) and the shared URL shortener
(`shortener-default`)."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from multistore.calls import Pools
from multistore.clients.dealercom import DealercomClient
from multistore.clients.homenet import FeedConfig, HomeNetClient
from multistore.clients.shortener import ShortenerClient, ShortenerConfig
from multistore.clients.vdp import VehiclePages


class InventorySources(Block):
    """Where a dealer's HomeNet and Dealer.com inventory lives."""

    _block_type_name = "Inventory Sources"
    _block_type_slug = "inventory-sources"
    _description = "A dealer's inventory feeds (HomeNet IOL CSV, Dealer.com listing)."

    base_url: str = Field(description="Base URL serving /homenet/… and /dealercom/…")
    dealer_id: str = Field(description="The dealer's id at the feed vendors")
    homenet_key: SecretStr = Field(description="HomeNet feed key")

    def _feed(self) -> FeedConfig:
        return FeedConfig(self.base_url, self.dealer_id, self.homenet_key)

    def get_client(self, store_id: str, *, pools: Pools, **options: Any) -> HomeNetClient:
        """The dealer's HomeNet feed (`options`: clock, http, breaker)."""
        return HomeNetClient(self._feed(), store_id=store_id, pools=pools, **options)

    def get_dealercom_client(
        self, store_id: str, *, pools: Pools, **options: Any
    ) -> DealercomClient:
        """The dealer's Dealer.com listing (`options`: clock, http, breaker)."""
        return DealercomClient(self._feed(), store_id=store_id, pools=pools, **options)

    def get_vdp_client(self, store_id: str, *, pools: Pools, **options: Any) -> VehiclePages:
        """The dealer's vehicle detail pages (`options`: clock)."""
        return VehiclePages(
            self.base_url, self.dealer_id, store_id=store_id, pools=pools, **options
        )


class ShortenerService(Block):
    """The URL shortener used for vehicle detail page links."""

    _block_type_name = "Shortener Service"
    _block_type_slug = "shortener-service"
    _description = "A URL shortening service: base URL and API key."

    base_url: str = Field(
        description="The shortener's base URL (POST <base_url>/shortener/shorten)"
    )
    api_key: SecretStr = Field(description="Sent as the `X-API-Key` header")

    def get_client(self, store_id: str, *, pools: Pools, **options: Any) -> ShortenerClient:
        """The shortener, its requests counted for `store_id` (`options`: clock, http,
        breaker)."""
        config = ShortenerConfig(self.base_url, self.api_key)
        return ShortenerClient(config, store_id=store_id, pools=pools, **options)
