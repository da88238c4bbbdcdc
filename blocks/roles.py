"""Which block a store uses for each role (`crm`, `dnc`, `inventory`, `shortener`), and loading it.

A store's `blocks` mapping names the document per role; a role it does not name falls back to the
convention `multistore setup` follows: per-store documents `<role>-<store_id>`, shared ones
`<role>-default`.
"""

from __future__ import annotations

from typing import Any, Protocol

from prefect.blocks.core import Block

from blocks.crm import CRMCredentials
from blocks.dnc import DNCService
from blocks.inventory import InventorySources, ShortenerService

BLOCK_TYPES: dict[str, type[Block]] = {
    "crm": CRMCredentials,
    "dnc": DNCService,
    "inventory": InventorySources,
    "shortener": ShortenerService,
}
PER_STORE_ROLES = ("crm", "inventory")
SHARED_ROLES = ("dnc", "shortener")


class HasBlocks(Protocol):
    id: str
    blocks: dict[str, str]


def default_block_name(role: str, store_id: str) -> str:
    _check_role(role)
    return f"{role}-{store_id}" if role in PER_STORE_ROLES else f"{role}-default"


def block_name(store: HasBlocks, role: str) -> str:
    """The document name `store` uses for `role`."""
    _check_role(role)
    return (store.blocks or {}).get(role) or default_block_name(role, store.id)


async def aload_store_block(store: HasBlocks, role: str) -> Any:
    """The block document `store` uses for `role`; a missing one is one line naming both."""
    name = block_name(store, role)
    try:
        return await BLOCK_TYPES[role].aload(name)
    except ValueError as exc:
        raise LookupError(
            f"store {store.id!r}: {role} block {name!r} not found (run `multistore setup`)"
        ) from exc


def load_store_block(store: HasBlocks, role: str) -> Any:
    """Synchronous `aload_store_block`, for code running in Prefect's worker threads."""
    name = block_name(store, role)
    try:
        return BLOCK_TYPES[role].load(name, _sync=True)
    except ValueError as exc:
        raise LookupError(
            f"store {store.id!r}: {role} block {name!r} not found (run `multistore setup`)"
        ) from exc


def _check_role(role: str) -> None:
    if role not in BLOCK_TYPES:
        raise KeyError(f"unknown block role {role!r}; known: {', '.join(BLOCK_TYPES)}")
