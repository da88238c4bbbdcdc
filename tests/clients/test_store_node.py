"""The store-node client: every outcome is a HealthCheck (never an exception), and an answer
of the wrong shape is a failed check naming what is wrong."""

from __future__ import annotations

import pytest

from multistore.clients.store_node import FakeStoreNodes, StoreNodeClient, read_answer


async def test_answers_failures_and_bad_shapes() -> None:
    fake = FakeStoreNodes(
        {
            "up": {"store_id": "up", "status": "ok", "machine": {"status": "running"}},
            "down": 503,
            "silent": None,
            "odd": ["not", "an", "object"],
            "wrong": {"store_id": "someone-else", "status": "ok"},
        }
    )
    client = StoreNodeClient(transport=fake.transport(), max_concurrent=2)
    checks = await client.check_many(
        [(s, f"http://nodes/{s}") for s in ("up", "down", "silent", "odd", "wrong")]
    )
    by_id = {c.store_id: c for c in checks}
    assert [c.store_id for c in checks] == ["up", "down", "silent", "odd", "wrong"]
    assert (
        by_id["up"].ok and by_id["up"].machine_status == "running" and by_id["up"].latency_ms >= 0
    )
    assert (by_id["down"].ok, by_id["down"].error) == (False, "node down: HTTP 503")
    assert (by_id["silent"].ok, by_id["silent"].error) == (
        False,
        "node silent: no answer (timeout)",
    )
    assert by_id["odd"].error == "node odd: health answer is not a JSON object"
    assert by_id["wrong"].error == "node wrong: health answer is for store 'someone-else'"
    assert sorted(fake.calls) == ["down", "odd", "silent", "up", "wrong"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "degraded"}, "health answer status is 'degraded', not 'ok'"),
        ({"status": "ok", "machine": {}}, "health answer machine.status is missing"),
    ],
)
def test_read_answer_names_the_problem(body: dict, error: str) -> None:
    assert read_answer("s1", body) == (None, f"node s1: {error}")
