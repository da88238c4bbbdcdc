"""The event shapes: the store as resource and as related "store", labelled for automations."""

from __future__ import annotations

import pytest

from multistore.prefect_api import PrefectAPI
from multistore.registry import Registry
from multistore.store_events import circuit_event, post, store_event


def test_a_store_event_names_the_store_its_priority_and_region() -> None:
    store = Registry().add("north", priority="high", region="west")
    event = store_event("failed", store, {"error": "boom"}, **{"multistore.failures-in-a-row": 2})
    assert event["event"] == "multistore.store.failed"
    assert event["resource"] == {
        "prefect.resource.id": "multistore.store.north",
        "prefect.resource.name": "north",
        "multistore.store": "north",
        "multistore.priority": "HIGH",
        "multistore.region": "west",
        "multistore.failures-in-a-row": "2",
    }
    assert event["related"] == [
        {
            "prefect.resource.id": "multistore.store.north",
            "prefect.resource.name": "north",
            "prefect.resource.role": "store",
            "multistore.store": "north",
            "multistore.priority": "HIGH",
            "multistore.region": "west",
        }
    ]
    assert event["payload"] == {"store_id": "north", "error": "boom"}
    with pytest.raises(ValueError, match="unknown outcome 'exploded'"):
        store_event("exploded", store)


def test_circuit_events_and_posting_without_a_server() -> None:
    assert circuit_event("dnc", opened=True)["resource"]["prefect.resource.id"] == (
        "multistore.circuit.dnc"
    )
    assert circuit_event("dnc", opened=False)["event"] == "multistore.circuit.closed"
    assert post([circuit_event("dnc", opened=True)], prefect=PrefectAPI("")) is False
    down = PrefectAPI("http://127.0.0.1:9/api")
    assert post([circuit_event("dnc", opened=True)], prefect=down) is False  # never raises
