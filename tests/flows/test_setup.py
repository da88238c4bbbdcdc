"""`multistore setup` against a real Prefect server: blocks and pools, twice, and a bad file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from pydantic import SecretStr
from typer.testing import CliRunner

from blocks.crm import CRMCredentials
from blocks.dnc import DNCService
from blocks.inventory import InventorySources, ShortenerService
from blocks.store_node import StoreNodeService
from cli.app import app as command
from devtools import PREFECT
from flows.alerts import load_alerts
from multistore.pools import load_pools
from multistore.registry import Registry

pytestmark = pytest.mark.prefect

MULTISTORE = str(Path(sys.executable).with_name("multistore"))


def _setup(*args: str) -> subprocess.CompletedProcess:
    """`multistore setup` as a user types it: the installed script in its own process."""
    return subprocess.run(
        [MULTISTORE, "setup", *args], capture_output=True, text=True, env=dict(os.environ)
    )


def _invoke(*args: str) -> subprocess.CompletedProcess:
    """The same command in this process (typer's runner): the installed script itself is
    proved once, by the first test; a process costs seconds of CPU in imports alone."""
    result = CliRunner().invoke(command, list(args))
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


async def _limits() -> dict[str, tuple[int, float | None]]:
    async with get_client() as client:
        limits = await client.read_global_concurrency_limits(limit=200)
    return {gcl.name: (gcl.limit, gcl.slot_decay_per_second) for gcl in limits}


async def _automations(name: str) -> list:
    async with get_client() as client:
        return await client.read_automations_by_name(name)


async def _documents() -> list[str]:
    async with get_client() as client:
        docs = await client.read_block_documents()
    return sorted(d.name for d in docs if d.name)


def test_setup_twice_seeds_every_missing_store_block_once_and_sizes_the_pools(
    prefect_server, sandbox
) -> None:
    registry = Registry()
    registry.add("setup-a")
    registry.add("setup-b", blocks={"crm": "crm-custom-b", "dnc": "dnc-west"})

    # The shared documents (dnc-default, shortener-default) may exist from an earlier test on
    # this session's server: those are found, not created.
    before = set(asyncio.run(_documents()))
    first = _setup("--sandbox", "--json")
    assert first.returncode == 0, first.stderr
    documents_once = asyncio.run(_documents())
    StoreNodeService(timeout_seconds=3).save("store-nodes", overwrite=True)  # a user's edit
    second = _invoke("setup", "--sandbox", "--json")
    assert second.returncode == 0, second.stderr
    assert asyncio.run(_documents()) == documents_once  # not duplicated

    once, twice = json.loads(first.stdout), json.loads(second.stdout)
    wanted = {"crm-setup-a", "inventory-setup-a", "crm-custom-b", "inventory-setup-b"}
    wanted |= {"dnc-default", "dnc-west", "shortener-default"}
    assert wanted <= set(once["documents"]) and once["documents"] == twice["documents"]
    assert wanted - before <= set(once["created"]) and once["missing"] == []
    assert not set(once["created"]) & before  # nothing that existed was created again
    assert twice["created"] == [] and twice["missing"] == []  # found, left alone

    # The shipped alerts: created once, updated by name the second time, listed by Prefect.
    assert twice["alerts"] == [a["name"] for a in load_alerts()]
    listed = subprocess.run(
        [PREFECT, "automation", "ls"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},  # whole names, one per line
    )
    assert listed.returncode == 0, listed.stderr
    for name in twice["alerts"]:
        assert len(asyncio.run(_automations(name))) == 1, name
        assert name in listed.stdout, name
    assert "store-nodes" in twice["documents"] and "store-nodes" not in twice["created"]
    assert StoreNodeService.load("store-nodes").timeout_seconds == 3  # kept, not overwritten

    crm = CRMCredentials.load("crm-custom-b")
    assert crm.base_url == f"{sandbox.url}/crm" and crm.dealer_id == "setup-b"
    assert crm.ui_username == "setup-b-user"
    assert DNCService.load("dnc-west").base_url == sandbox.url
    assert InventorySources.load("inventory-setup-a").dealer_id == "setup-a"
    assert ShortenerService.load("shortener-default").api_key.get_secret_value()

    limits = asyncio.run(_limits())
    for spec in load_pools():
        assert limits[spec.name][0] == spec.limit
        if spec.per_minute is not None:
            assert limits[spec.rate_name] == (spec.burst, pytest.approx(spec.per_minute / 60))


def test_credentials_edited_in_the_ui_survive_setup(prefect_server, sandbox) -> None:
    """A user replaces the sandbox's key with a real one in the UI (a save of the document);
    setup, with or without --sandbox, leaves it as the user left it."""
    Registry().add("setup-real")
    assert _invoke("setup", "--sandbox").returncode == 0
    crm = CRMCredentials.load("crm-setup-real")
    crm.base_url = "https://crm.vendor.example/api"
    crm.client_secret = SecretStr("real-secret-from-the-vendor")
    crm.save("crm-setup-real", overwrite=True)  # what the UI's "Save" does

    for argv in (["--json"], ["--sandbox", "--json"]):
        rerun = _invoke("setup", *argv)
        assert rerun.returncode == 0, rerun.stderr
        assert "crm-setup-real" not in json.loads(rerun.stdout)["created"]
        kept = CRMCredentials.load("crm-setup-real")
        assert kept.base_url == "https://crm.vendor.example/api"
        assert kept.client_secret.get_secret_value() == "real-secret-from-the-vendor"
        assert "real-secret-from-the-vendor" not in rerun.stdout + rerun.stderr


def test_sandbox_documents_follow_the_sandbox_to_a_new_port_and_edited_ones_stay(
    prefect_server, sandbox
) -> None:
    """The demo moves its sandbox off a taken port: what seeding wrote for the old port follows
    it; a document a user changed (here only a secret, still on loopback) is left alone."""
    Registry().add("setup-moved")
    Registry().add("setup-kept")
    old = "http://127.0.0.1:9"
    assert _invoke("setup", "--sandbox", "--sandbox-url", old).returncode == 0
    kept = CRMCredentials.load("crm-setup-kept")
    kept.api_key = SecretStr("a-key-the-user-typed")
    kept.save("crm-setup-kept", overwrite=True)

    rerun = _invoke("setup", "--sandbox", "--json")
    assert rerun.returncode == 0, rerun.stderr
    repointed = json.loads(rerun.stdout)["repointed"]
    assert {"crm-setup-moved", "inventory-setup-moved", "inventory-setup-kept"} <= set(repointed)
    assert "crm-setup-kept" not in repointed
    assert CRMCredentials.load("crm-setup-moved").base_url == f"{sandbox.url}/crm"
    assert InventorySources.load("inventory-setup-moved").base_url == sandbox.url
    left = CRMCredentials.load("crm-setup-kept")
    assert left.base_url == f"{old}/crm"
    assert left.api_key.get_secret_value() == "a-key-the-user-typed"
    assert "a-key-the-user-typed" not in rerun.stdout + rerun.stderr


def test_setup_without_sandbox_creates_no_document_and_names_the_missing(prefect_server) -> None:
    Registry().add("setup-new")
    result = _invoke("setup")
    assert result.returncode == 0, result.stderr
    assert "crm-setup-new" not in asyncio.run(_documents())
    assert "missing block documents" in result.stdout and "crm-setup-new" in result.stdout


def test_a_bad_pools_file_is_one_line_and_changes_nothing(
    prefect_server, sandbox, tmp_path: Path
) -> None:
    Registry().add("setup-bad")
    bad = tmp_path / "pools.yaml"
    bad.write_text("pools:\n  browser: {limit: 0}\n")
    result = _invoke("setup", "--pools", str(bad))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "pool 'browser'" in result.stderr and "limit" in result.stderr
    assert "crm-setup-bad" not in asyncio.run(_documents())

    absent = _invoke("setup", "--pools", str(tmp_path / "absent.yaml"))
    assert absent.returncode == 1
    assert absent.stderr.count("\n") == 1
    assert f"{tmp_path / 'absent.yaml'}: no such file" in absent.stderr
    assert "crm-setup-bad" not in asyncio.run(_documents())


def test_an_unknown_store_is_one_line(prefect_server) -> None:
    # `run-store` in process (the script's entry is proved by the first test); the module's
    # `__main__` only runs as a process of its own.
    by_module = subprocess.run(
        [sys.executable, "-m", "flows.dnc_compliance", "no-such-store"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    for result in (_invoke("run-store", "no-such-store"), by_module):
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "no-such-store" in result.stderr, result.stderr
