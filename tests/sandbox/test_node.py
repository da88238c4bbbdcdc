"""The store-node health endpoint and its faults (slow, down, flapping)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.faults import Fault


def test_a_node_answers_its_health_with_its_machine() -> None:
    client = TestClient(create_app(SandboxConfig()))
    body = client.get("/node/store-0001/health").json()
    assert body["store_id"] == "store-0001" and body["status"] == "ok"
    assert body["machine"]["status"] in ("running", "fault")


def test_down_and_flapping_nodes() -> None:
    config = SandboxConfig(
        faults=[
            Fault(vendor="node", store="down-1", outage=True),
            Fault(vendor="node", store="flap-1", error_rate=0.5),
        ]
    )
    client = TestClient(create_app(config))
    assert client.get("/node/down-1/health").status_code == 503
    assert client.get("/node/up-1/health").status_code == 200
    codes = [client.get("/node/flap-1/health").status_code for _ in range(40)]
    assert 5 <= codes.count(200) <= 35 and set(codes) - {200} <= {500, 502, 503}
