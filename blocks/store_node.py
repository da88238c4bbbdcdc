"""How heartbeats reach the store nodes: document `store-nodes`. Builds the client."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

from multistore.clients.store_node import StoreNodeClient


class StoreNodeService(Block):
    """Timeouts and concurrency of the store-node health checks (each node's URL is in the
    registry: `multistore node set STORE --api-url …`)."""

    _block_type_name = "Store Node Service"
    _block_type_slug = "store-node-service"
    _description = "Health checks of store nodes: timeout and concurrent checks per pass."

    timeout_seconds: float = Field(default=5.0, gt=0, description="A node silent this long failed")
    max_concurrent: int = Field(default=100, ge=1, le=1000, description="Checks in flight at once")

    def get_client(self) -> StoreNodeClient:
        return StoreNodeClient(
            timeout_seconds=self.timeout_seconds, max_concurrent=self.max_concurrent
        )
