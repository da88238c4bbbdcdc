"""The do-not-call scrubbing service (DNC.com-shaped), shared: document `dnc-default`."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from multistore.calls import Pools
from multistore.clients.dnc import DNCClient, DNCConfig


class DNCService(Block):
    """The scrub API's base URL, key and the batch size it accepts (the vendor caps it at 1000)."""

    _block_type_name = "DNC Service"
    _block_type_slug = "dnc-service"
    _description = "A do-not-call scrubbing service: base URL, API key, numbers per batch request."

    base_url: str = Field(description="The scrub service's base URL (POST <base_url>/dnc/scrub)")
    api_key: SecretStr = Field(description="Sent as the `X-API-Key` header")
    batch_size: int = Field(default=1000, ge=1, le=1000, description="Numbers per scrub request")

    def get_client(self, store_id: str, *, pools: Pools, **options: Any) -> DNCClient:
        """The scrub service, its requests counted for `store_id` (`options`: clock, http,
        breaker)."""
        config = DNCConfig(self.base_url, self.api_key, self.batch_size)
        return DNCClient(config, store_id=store_id, pools=pools, **options)
