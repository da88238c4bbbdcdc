"""One client per outside system: the only code that speaks a vendor's protocol.

A client owns its system's base URL, authentication (and token refresh), pagination and body
checks, and makes every request through one `multistore.calls.Caller` (pool slot → breaker →
retry with rate → one ServiceError). Its Block builds it (`blocks/`, `get_client(store_id,
pools=…)`); a fake of it answers from the sandbox's generated data in-process (`sandbox/fakes.py`).

A new vendor is one client class here (an `HttpClient` subclass: `service`, `pool`, its methods)
plus one block with `get_client`. The interface below is what jobs see (`StoreClients`); tasks
take one client and call one method.

Prefect-free: the pools are injected (`multistore.calls.Pools`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from multistore.clients.crm import CRMApi
    from multistore.clients.crm_ui import CRMWebUI
    from multistore.clients.dealercom import DealercomClient
    from multistore.clients.dnc import DNCClient
    from multistore.clients.homenet import HomeNetClient
    from multistore.clients.shortener import ShortenerClient
    from multistore.clients.vdp import VehiclePages


class StoreClients(Protocol):
    """The clients of one store's outside systems, each made fresh for one task."""

    def crm(self) -> CRMApi: ...
    def crm_ui(self) -> CRMWebUI: ...
    def dnc(self) -> DNCClient: ...
    def homenet(self) -> HomeNetClient: ...
    def dealercom(self) -> DealercomClient: ...
    def vdp(self) -> VehiclePages: ...
    def shortener(self) -> ShortenerClient: ...
