"""The parent reconciles a store run's Prefect state with the registry: a run that recorded its
store as completed and only lost its final state to a Prefect server restart is not run again."""

from __future__ import annotations

from prefect.states import Completed, Crashed, Failed

from flows.run_stores import _attempt
from multistore.registry import Registry


def _finished(store_id: str, flow_run_id: str, status: str, error: str | None = None) -> None:
    registry = Registry()
    registry.add(store_id)
    registry.finish_run(registry.start_run(store_id, flow_run_id), status, error=error)


def test_a_crashed_run_whose_store_completed_counts_completed() -> None:
    _finished("done", "run-1", "completed")
    attempt = _attempt("done", Crashed(message="the server was away"), "run-1", None)
    assert (attempt.ok, attempt.error) == (True, None)


def test_a_crashed_or_failed_run_whose_store_did_not_complete_stays_failed() -> None:
    _finished("broken", "run-2", "failed", error="store broken: failed: dnc_compliance (boom)")
    attempt = _attempt("broken", Crashed(message="x"), "run-2", None)
    assert not attempt.ok and attempt.error == "store broken: failed: dnc_compliance (boom)"
    _finished("half", "run-3", "completed")
    # A Failed state is the run's own verdict (a job failed after all): not overridden.
    assert not _attempt("half", Failed(message="y"), "run-3", None).ok
    assert _attempt("half", Completed(), "run-3", None).ok
