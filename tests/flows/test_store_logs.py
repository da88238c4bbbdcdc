"""Per-store log fields on a real run: every record of a store's run carries store_id (and its
flow run id), and `multistore logs STORE` reads the store's lines back from the server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blocks.inventory import InventorySources
from flows.run_stores import run_stores
from multistore.registry import Registry

pytestmark = pytest.mark.prefect

MULTISTORE = str(Path(sys.executable).with_name("multistore"))


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_every_record_of_a_store_run_carries_store_id(prefect_server, sandbox) -> None:
    Registry().add("logs-down", jobs=["homenet_feed"])
    await InventorySources(
        base_url=sandbox.url, dealer_id="logs-down", homenet_key="sandbox-homenet-key"
    ).save("inventory-logs-down", overwrite=True)
    sandbox.admin.set_faults([{"vendor": "homenet", "store": "logs-down", "outage": True}])

    capture = Capture()
    loggers = [logging.getLogger(), logging.getLogger("prefect")]
    for logger in loggers:
        logger.addHandler(capture)
    try:
        state = await run_stores(stores=["logs-down"], max_retries=0, return_state=True)
    finally:
        for logger in loggers:
            logger.removeHandler(capture)
    report = await state.aresult(raise_on_failure=False)
    (store_run,) = report["stores"][0]["flow_run_ids"]

    of_the_run = [r for r in capture.records if str(getattr(r, "flow_run_id", "")) == store_run]
    assert len(of_the_run) >= 2  # the task's failure and the flow's, at least
    assert {getattr(r, "store_id", None) for r in of_the_run} == {"logs-down"}
    tagged = [r for r in capture.records if hasattr(r, "store_id")]
    assert all(getattr(r, "flow_run_id", None) for r in tagged), [
        (r.name, r.getMessage()[:80]) for r in tagged if not getattr(r, "flow_run_id", None)
    ]
    # The parent's own records (its plan, its report) are not the store's.
    parent = [
        r
        for r in capture.records
        if str(getattr(r, "flow_run_id", "")) == str(report["flow_run_id"])
    ]
    assert parent and not any(hasattr(r, "store_id") for r in parent)

    # The same run's lines, read back from the server by the CLI (the server stores them a
    # moment after the run: poll for them).
    env = dict(os.environ)
    deadline = time.monotonic() + 60
    while True:
        result = subprocess.run(
            [MULTISTORE, "logs", "logs-down", "--since", "1h", "--json"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        lines = json.loads(result.stdout)
        if lines or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert lines
    assert {line["store_id"] for line in lines} == {"logs-down"}
    assert {line["flow_run_id"] for line in lines} == {store_run}
