"""The tick flow and the store lease on a real Prefect server (stores as subflows, no workers).

The many-workers case (two ticks at once, store runs on two workers, PostgreSQL) is in
tests/test_tick_workers.py.
"""

from __future__ import annotations

import pytest

from flows.run_stores import NOTHING_RAN_STATE, run_stores
from flows.store_pipeline import store_pipeline
from flows.tick import tick_flow
from multistore.claims import COMPLETED, Claims
from multistore.leases import Leases
from multistore.registry import Registry

pytestmark = [pytest.mark.prefect]


async def test_an_adhoc_run_of_a_running_store_is_refused_with_the_one_line_reason(
    prefect_server,
) -> None:
    Registry().add("busy", jobs=[])
    assert Leases().acquire("busy", "other-flow-run") is None
    line = Leases().held("busy").line()
    assert line.startswith("store busy is already running since ")
    assert line.endswith(" in flow run other-flow-run")

    state = await run_stores(stores=["busy"], return_state=True)
    assert state.name == NOTHING_RAN_STATE and state.is_cancelled()  # grey, not a success
    report = await state.aresult(raise_on_failure=False)
    (skip,) = report["skipped"]
    assert (skip["store_id"], skip["reason"], skip["detail"]) == ("busy", "already running", line)
    assert line in state.message

    # Started another way (the tick, `multistore run-store`): the pipeline itself refuses.
    state = await store_pipeline("busy", return_state=True)
    assert state.name == "AlreadyRunning" and state.message == line
    assert Registry().history("busy") == []


async def test_a_tick_starts_each_due_store_once_and_records_the_outcome_in_its_claim(
    prefect_server,
) -> None:
    registry = Registry()
    registry.add("always-a", jobs=[], priority="low")
    registry.add("always-b", jobs=[], priority="high")
    state = await tick_flow(store_deployment=None, return_state=True)
    summary = await state.aresult()
    assert [s["store_id"] for s in summary["started"]] == ["always-b", "always-a"]
    claims = {c.store_id: c for c in Claims().history()}
    assert {c.status for c in claims.values()} == {COMPLETED}
    for store_id in ("always-a", "always-b"):
        (run,) = registry.history(store_id)
        assert run.flow_run_id == claims[store_id].flow_run_id
    again = await (await tick_flow(store_deployment=None, return_state=True)).aresult()
    assert again["started"] == []
    assert Leases().live() == {}


async def test_a_tick_with_stores_waiting_for_a_slot_starts_the_next_when_one_frees(
    prefect_server, monkeypatch
) -> None:
    """The bound is full (another store holds the only slot): the waiting store starts as soon
    as that lease is released, in the same tick, not at the next one 5 minutes later."""
    from flows import tick as tick_module

    Registry().add("waiting-store", jobs=[])
    leases = Leases()
    assert leases.acquire("elsewhere", "its-flow-run") is None  # the one slot, taken
    decisions = []
    decide = tick_module._decide

    def spy(*args, **kwargs):
        decided = decide(*args, **kwargs)
        decisions.append([w.reason for w in decided[0].waiting])
        if len(decisions) == 1:
            leases.release("elsewhere", "its-flow-run")  # that store's run ends
        return decided

    monkeypatch.setattr(tick_module, "_decide", spy)
    monkeypatch.setattr(tick_module, "FOLLOW_POLL_SECONDS", 0.05)
    state = await tick_flow(
        store_deployment=None, max_concurrent_stores=1, follow_seconds=120, return_state=True
    )
    summary = await state.aresult()
    assert decisions[0] == ["all 1 store slots busy; a later tick starts it"]
    assert [s["store_id"] for s in summary["started"]] == ["waiting-store"]
    assert summary["waiting"] == [] and len(decisions) == 2
    assert {c.status for c in Claims().history()} == {COMPLETED}


async def test_a_claim_whose_run_crashed_before_it_started_is_retried_by_the_next_tick(
    prefect_server,
) -> None:
    """A worker that could not start a store's run (its process died before the pipeline took
    the lease) leaves the run Crashed and the claim 'started': the next tick retries it."""
    from datetime import UTC, datetime

    from prefect import get_client
    from prefect.states import Crashed

    from multistore.ticking import tick

    Registry().add("unstarted-store", jobs=[])
    # A tick's claim and the run it created, which a worker then failed to start.
    (start,) = tick(Registry().list(), datetime.now(UTC), claims=Claims(), leases=Leases()).started
    async with get_client() as client:
        run = await client.create_flow_run(store_pipeline, state=Crashed(message="no process"))
    Claims().set_flow_run("unstarted-store", start.keys, str(run.id))

    state = await tick_flow(store_deployment=None, backoff_seconds=0, return_state=True)
    summary = await state.aresult()
    assert [(s["store_id"], s["attempt"]) for s in summary["started"]] == [("unstarted-store", 2)]
    (claim,) = Claims().history("unstarted-store")
    assert claim.status == COMPLETED and claim.attempts == 2


async def test_a_store_waiting_through_several_ticks_is_one_skipped_event(
    prefect_server, monkeypatch
) -> None:
    import flows.tick
    from tests.fixtures.prefect_server import stored_events

    registry = Registry()
    registry.add("waits-long", jobs=[])
    assert Leases().acquire("waits-long", "someone-elses-run") is None
    emitted = []

    def record(outcome, store, payload=None, **labels):
        emitted.append((outcome, store.id, labels.get("multistore.reason")))
        real_emit(outcome, store, payload, **labels)

    real_emit = flows.tick.emit_store_event
    monkeypatch.setattr(flows.tick, "emit_store_event", record)
    for _ in range(3):  # three ticks see it due and running elsewhere
        await tick_flow(store_deployment=None, return_state=True)
    assert emitted == [("skipped", "waits-long", "already running")]
    (event,) = await stored_events(
        expected=1, name="multistore.store.skipped", resource_id="multistore.store.waits-long"
    )
    assert event.resource["multistore.reason"] == "already running"
    assert event.payload["detail"].startswith("store waits-long is already running since ")
