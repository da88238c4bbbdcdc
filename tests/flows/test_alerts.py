"""The shipped alerts on the real server: a store quarantined by the real parent flow reaches a
webhook on loopback through the automation `multistore setup` creates (triggers and actions
services of the session's Prefect server running)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect import get_client
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)

from blocks.inventory import InventorySources
from flows.alerts import ALERT_BLOCK, ensure_alerts
from flows.run_stores import run_stores
from multistore.board import BOARD_KEY
from multistore.breaker import BreakerPolicy, CircuitBreaker
from multistore.registry import Registry
from tests.fixtures.prefect_server import stored_events

pytestmark = pytest.mark.prefect


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.received.append(json.loads(body or b"{}"))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_a_quarantined_store_is_notified_on_the_webhook(
    prefect_server, sandbox, receiver: Receiver
) -> None:
    # The user points the alerts' block at their webhook; setup's alerts notify through it.
    await CustomWebhookNotificationBlock(
        name=ALERT_BLOCK,
        url=receiver.url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
    ).asave(ALERT_BLOCK, overwrite=True)
    await ensure_alerts()

    Registry().add("alert-down", priority="HIGH", region="east", jobs=["homenet_feed"])
    await InventorySources(
        base_url=sandbox.url, dealer_id="alert-down", homenet_key="sandbox-homenet-key"
    ).save("inventory-alert-down", overwrite=True)
    sandbox.admin.set_faults([{"vendor": "homenet", "store": "alert-down", "outage": True}])

    state = await run_stores(
        stores=["alert-down"], max_retries=0, quarantine_threshold=1, return_state=True
    )
    assert state.is_failed()
    assert Registry().get("alert-down").quarantined_at is not None

    # The event goes through the server's triggers and actions services: poll for its effect.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _quarantine_notes(receiver):
        await asyncio.sleep(0.5)
    notes = _quarantine_notes(receiver)
    assert len(notes) == 1, receiver.received
    assert "store alert-down quarantined" in notes[0]["subject"]
    assert "priority HIGH" in notes[0]["body"] and "region east" in notes[0]["body"]
    assert "homenet" in notes[0]["body"]

    # The store's outcome events: the store as resource and as related "store", labelled.
    events = await stored_events(
        prefix="multistore.store.", resource_id="multistore.store.alert-down", expected=3
    )
    by_name = {e.event: e for e in events}
    assert {
        "multistore.store.started",
        "multistore.store.failed",
        "multistore.store.quarantined",
    } <= set(by_name)
    failed = by_name["multistore.store.failed"]
    assert failed.resource["multistore.priority"] == "HIGH"
    assert failed.resource["multistore.region"] == "east"
    assert failed.resource["multistore.failures-in-a-row"] == "1"
    store = [r for r in failed.related if r.role == "store"]
    assert [r.id for r in store] == ["multistore.store.alert-down"]
    assert store[0]["multistore.priority"] == "HIGH"

    # The run updated the store board (one key, on the parent's flow run).
    report = await state.aresult(raise_on_failure=False)
    async with get_client() as client:
        boards = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[BOARD_KEY])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[report["flow_run_id"]])),
        )
    (board,) = boards
    rows = board.data if isinstance(board.data, list) else json.loads(board.data)
    row = next(r for r in rows if r["store"] == "alert-down")
    assert row["state"] == "quarantined" and row["priority"] == "HIGH"
    assert row["last_outcome"].startswith("failed ")


async def test_a_circuit_opening_and_closing_are_events(prefect_server) -> None:
    clock = [datetime.now(UTC)]
    policy = BreakerPolicy(threshold=1, cooldown_seconds=1)
    circuit = CircuitBreaker("alert-probe", policy=policy, clock=lambda: clock[0])
    assert circuit.record_failure("HTTP 503")  # opened
    clock[0] += timedelta(seconds=2)  # the cool-down has passed: the next caller probes
    assert circuit.before_call()
    circuit.record_success(probe=True)  # closed
    events = await stored_events(
        prefix="multistore.circuit.", resource_id="multistore.circuit.alert-probe", expected=2
    )
    assert sorted(e.event for e in events) == [
        "multistore.circuit.closed",
        "multistore.circuit.opened",
    ]
    opened = next(e for e in events if e.event.endswith("opened"))
    assert opened.payload["error"] == "HTTP 503" and opened.payload["cooldown_seconds"] == 1


def _quarantine_notes(receiver: Receiver) -> list[dict]:
    return [n for n in receiver.received if "quarantined" in n.get("subject", "")]
