"""/health's "do its outside systems answer", on a real Prefect server and the sandbox: the
endpoints read from the block documents over REST, each probed, no credential in the answer."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from blocks.inventory import InventorySources
from blocks.roles import BLOCK_TYPES
from blocks.sandbox import CRM_API_KEY, CRM_CLIENT_SECRET, CRM_UI_PASSWORD, HOMENET_KEY
from flows.setup import setup
from multistore.outside_systems import ROLE_SLUGS, shown
from multistore.prefect_api import PrefectAPI
from multistore.registry import Registry
from multistore.service import create_app


def test_each_role_reads_the_block_type_blocks_registers() -> None:
    assert {role: cls.get_block_type_slug() for role, cls in BLOCK_TYPES.items()} == ROLE_SLUGS


def test_a_url_is_shown_without_its_user_password_or_query() -> None:
    assert shown("https://me:hunter2@crm.example.com:8443/api/?token=abc#x") == (
        "https://crm.example.com:8443/api"
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.prefect
async def test_health_names_each_outside_system_and_whether_it_answers(
    prefect_server, sandbox
) -> None:
    registry = Registry()
    registry.add("reachable", jobs=["homenet_feed", "dnc_compliance"])
    registry.add("cut-off", jobs=["homenet_feed"])
    await setup(seed_sandbox=True)
    gone = f"http://127.0.0.1:{_closed_port()}"
    # The user pointed this store's feed at a host that is down (and typed its key).
    await InventorySources(
        base_url=gone, dealer_id="cut-off", homenet_key=SecretStr("users-own-secret")
    ).save("inventory-cut-off", overwrite=True)

    client = TestClient(create_app(prefect=PrefectAPI(prefect_server.url)))
    response = client.get("/health")
    assert response.status_code == 200, response.text  # degraded: up, but not all is well
    body = response.json()
    assert body["status"] == "degraded"
    stores = {s["id"]: s for s in body["stores"]}
    reachable = stores["reachable"]["systems"]
    assert sorted(reachable) == ["crm", "dnc", "inventory"]
    assert all(system["answers"] for system in reachable.values()), reachable
    assert reachable["inventory"]["url"] == sandbox.url.rstrip("/")
    assert reachable["crm"]["block"] == "crm-reachable"
    cut_off = stores["cut-off"]["systems"]["inventory"]
    assert cut_off["answers"] is False and cut_off["url"] == gone
    assert cut_off["detail"].startswith("ConnectError")
    systems = {s["url"]: s for s in body["systems"]}
    assert systems[gone]["answers"] is False and systems[gone]["stores"] == 1
    assert systems[sandbox.url.rstrip("/")]["answers"] is True
    # Credentials are never read, let alone shown.
    for secret in (
        "users-own-secret",
        HOMENET_KEY,
        CRM_API_KEY,
        CRM_CLIENT_SECRET,
        CRM_UI_PASSWORD,
    ):
        assert secret not in response.text
