"""The network routes of `multistore serve` (its app, FastAPI's test client): the answers of
the CLI, 400 on bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient

from multistore.network.registry import Network
from multistore.service import create_app


def _client(network: Network) -> TestClient:
    return TestClient(create_app(registry_url=network.url))


def test_nearest_and_hub_over_http(network: Network) -> None:
    client = _client(network)
    answer = client.get("/network/nearest", params={"lat": 37.79, "lon": -122.30})
    assert answer.status_code == 200 and answer.json()["store"] == "oak-1"
    answer = client.get("/network/nearest", params={"store": "sf-1"})
    assert answer.json()["store"] == "oak-1"
    assert client.get("/network/hub", params={"lat": 42, "lon": -72}).json()["hub"] == "east-hub"


def test_bad_input_is_a_400_with_one_line(network: Network) -> None:
    client = _client(network)
    answer = client.get("/network/nearest", params={"lat": 100, "lon": 0})
    assert answer.status_code == 400
    assert answer.json() == {"error": "point: latitude 100 is out of range (-90..90)"}
    assert client.get("/network/hub", params={"lat": 21.3, "lon": -157.8}).status_code == 400
    assert client.get("/network/nearest").status_code == 400
