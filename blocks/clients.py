"""A store's clients, each built by its block's `get_client` (the `StoreClients` of a real run).

Blocks are loaded when a client is asked for, in the task thread that uses it, each role once per
store run, and through a Prefect server restart (multistore/orchestrator.py); the pools are
injected by whoever builds this (tasks/pools.PREFECT_POOLS in a run).
"""

from __future__ import annotations

from typing import Any

from blocks.roles import HasBlocks, load_store_block
from multistore.calls import Pools
from multistore.clients.crm import CRMApi
from multistore.clients.crm_ui import CRMWebUI
from multistore.clients.dealercom import DealercomClient
from multistore.clients.dnc import DNCClient
from multistore.clients.homenet import HomeNetClient
from multistore.clients.shortener import ShortenerClient
from multistore.clients.vdp import VehiclePages
from multistore.orchestrator import through_outage


class BlockClients:
    def __init__(self, store: HasBlocks, *, pools: Pools, **options: Any) -> None:
        self.store = store
        self.pools = pools
        self.options = options  # e.g. a clock, for every client
        self._blocks: dict[str, Any] = {}

    def _block(self, role: str) -> Any:
        if role not in self._blocks:
            self._blocks[role] = through_outage(
                lambda: load_store_block(self.store, role),
                what=f"loading the {role} block of store {self.store.id}",
            )
        return self._blocks[role]

    def crm(self) -> CRMApi:
        return self._block("crm").get_client(self.store.id, pools=self.pools, **self.options)

    def crm_ui(self) -> CRMWebUI:
        return self._block("crm").get_ui_client(self.store.id, pools=self.pools, **self.options)

    def dnc(self) -> DNCClient:
        return self._block("dnc").get_client(self.store.id, pools=self.pools, **self.options)

    def homenet(self) -> HomeNetClient:
        block = self._block("inventory")
        return block.get_client(self.store.id, pools=self.pools, **self.options)

    def dealercom(self) -> DealercomClient:
        block = self._block("inventory")
        return block.get_dealercom_client(self.store.id, pools=self.pools, **self.options)

    def vdp(self) -> VehiclePages:
        block = self._block("inventory")
        return block.get_vdp_client(self.store.id, pools=self.pools, **self.options)

    def shortener(self) -> ShortenerClient:
        block = self._block("shortener")
        return block.get_client(self.store.id, pools=self.pools, **self.options)
