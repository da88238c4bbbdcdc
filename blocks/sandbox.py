"""The block documents that point a store at the sandbox, with the sandbox's published credentials.

These are the sandbox's fixed test credentials (its API contract), not secrets: real deployments
edit the documents in the Prefect UI or save their own.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import SecretStr

from blocks.crm import CRMCredentials
from blocks.dnc import DNCService
from blocks.inventory import InventorySources, ShortenerService

# The sandbox owns its credentials (they are its API contract); taking them from there keeps the
# documents saved here in step with what the sandbox accepts. A plain-constants module: importing
# it starts no server.
from sandbox.credentials import (
    CRM_API_KEY,
    CRM_CLIENT_SECRET,
    CRM_UI_PASSWORD,
    CRM_UI_USER_SUFFIX,
    DNC_API_KEY,
    HOMENET_KEY,
    SHORTENER_KEY,
)


def store_block(role: str, store_id: str, base_url: str) -> Block:
    """The per-store document for `role` (`crm` or `inventory`) of a sandbox dealer."""
    base_url = base_url.rstrip("/")
    if role == "crm":
        return CRMCredentials(
            base_url=f"{base_url}/crm",
            dealer_id=store_id,
            client_id=f"multistore-{store_id}",
            client_secret=SecretStr(CRM_CLIENT_SECRET),
            api_key=SecretStr(CRM_API_KEY),
            ui_username=f"{store_id}{CRM_UI_USER_SUFFIX}",
            ui_password=SecretStr(CRM_UI_PASSWORD),
        )
    if role == "inventory":
        return InventorySources(
            base_url=base_url, dealer_id=store_id, homenet_key=SecretStr(HOMENET_KEY)
        )
    raise KeyError(f"no per-store sandbox block for role {role!r}")


def shared_block(role: str, base_url: str, *, batch_size: int = 1000) -> Block:
    """The shared document for `role` (`dnc` or `shortener`) on the sandbox."""
    base_url = base_url.rstrip("/")
    if role == "dnc":
        return DNCService(base_url=base_url, api_key=SecretStr(DNC_API_KEY), batch_size=batch_size)
    if role == "shortener":
        return ShortenerService(base_url=base_url, api_key=SecretStr(SHORTENER_KEY))
    raise KeyError(f"no shared sandbox block for role {role!r}")
