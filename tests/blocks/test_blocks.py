"""The blocks against a real Prefect server: saved, loaded by role, secrets kept secret."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from blocks.crm import CRMCredentials
from blocks.dnc import DNCService
from blocks.roles import aload_store_block, block_name, default_block_name, load_store_block

pytestmark = pytest.mark.prefect


@dataclass
class FakeStore:
    """Only the two fields the role lookup reads (the registry's Store has them too)."""

    id: str
    blocks: dict[str, str] = field(default_factory=dict)


def test_default_names_follow_the_setup_convention() -> None:
    assert default_block_name("crm", "sunset-ford") == "crm-sunset-ford"
    assert default_block_name("inventory", "sunset-ford") == "inventory-sunset-ford"
    assert default_block_name("dnc", "sunset-ford") == "dnc-default"
    assert block_name(FakeStore("a", {"dnc": "dnc-west"}), "dnc") == "dnc-west"
    with pytest.raises(KeyError, match="unknown block role 'fax'"):
        block_name(FakeStore("a"), "fax")


async def test_saved_blocks_load_by_role_with_secrets_hidden(prefect_server) -> None:
    crm = CRMCredentials(
        base_url="http://127.0.0.1:1/crm",
        dealer_id="blk-store",
        client_id="client",
        client_secret=SecretStr("s3cret"),
        api_key=SecretStr("key"),
        ui_username="blk-store-user",
        ui_password=SecretStr("pw"),
    )
    await crm.asave("crm-blk-store", overwrite=True)
    await DNCService(base_url="http://x", api_key=SecretStr("k"), batch_size=50).asave(
        "dnc-blk", overwrite=True
    )

    store = FakeStore("blk-store", {"dnc": "dnc-blk"})
    loaded = await aload_store_block(store, "crm")
    assert loaded.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(loaded)
    assert (await aload_store_block(store, "dnc")).batch_size == 50


def test_sync_load_works_outside_an_event_loop(prefect_server) -> None:
    DNCService(base_url="http://y", api_key=SecretStr("k")).save("dnc-sync", overwrite=True)
    assert load_store_block(FakeStore("s", {"dnc": "dnc-sync"}), "dnc").base_url == "http://y"


async def test_missing_block_is_one_line_naming_store_and_block(prefect_server) -> None:
    with pytest.raises(LookupError) as info:
        await aload_store_block(FakeStore("ghost-store"), "crm")
    message = str(info.value)
    assert "ghost-store" in message and "crm-ghost-store" in message and "\n" not in message
