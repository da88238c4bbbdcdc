"""One store's pipeline: its job graph, each job a task run started as soon as its dependencies end.

1. read the store from the registry and build its job graph; a bad graph (unknown job, a
   dependency on a job turned off, a cycle) is refused here, before any task run exists;
2. run the graph: every job whose dependencies completed starts at once (independent jobs run
   side by side), up to the store's `max_concurrent_jobs` at a time when it sets one; a failed
   job blocks its dependents, which are reported "blocked" and never run, while its siblings go on;
3. publish the statistics (result, StoreRun metrics in the registry, a markdown artifact: the
   jobs with their state and upstream jobs, and each job's metrics);
4. end Failed, naming the failed and blocked jobs, when any job did not complete.

No store runs twice at once: the run first takes the store's lease (multistore/leases.py), renews
it while it runs and drops it at the end; a second start while it is held ends at once in a
Cancelled state named AlreadyRunning with one line ("store X is already running since … in flow
run …"). Started by the tick, the run also records its claims' outcome (multistore/claims.py), and
with `stop_at` (its window's close) it starts no job after that instant: the running job finishes,
the rest are reported "stopped", and the run counts as completed.

`python -m flows.store_pipeline STORE [JOB ...]` runs one store by hand.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.futures import PrefectConcurrentFuture
from prefect.states import Cancelled, State

from flows.jobs import JOBS, JobContext
from flows.run_names import store_run_name
from multistore import apicounts, logfields
from multistore import claims as claim_states
from multistore.calls import orchestrator_failure
from multistore.claims import Claims
from multistore.jobgraph import GraphError, JobGraph, build_graph
from multistore.leases import Closed, Held, Leases
from multistore.orchestrator import athrough_outage
from multistore.registry import Registry
from multistore.run_options import JobName
from multistore.runstats import (
    BLOCKED,
    COMPLETED,
    FAILED,
    STOPPED,
    JobRecord,
    render_markdown,
    run_statistics,
)
from multistore.settings import get_settings
from tasks.pools import slot_refused_by_server


class StorePipelineError(RuntimeError):
    """The run did not complete every job; the message names the failed and blocked ones."""


class JobFailed(Exception):
    """A job's error, with when it started (the runner's dependency check needs it), and
    whether the orchestrator failed it (`multistore.calls.OrchestratorBusy`), not the vendor."""

    def __init__(self, job: str, started_at: float, message: str, orchestrator: bool = False):
        super().__init__(job, started_at, message, orchestrator)
        self.job = job
        self.started_at = started_at
        self.message = message
        self.orchestrator = orchestrator

    def __str__(self) -> str:
        return self.message


@task(name="job", cache_policy=NONE)
def run_job(job: str, context: JobContext) -> dict[str, Any]:
    """Run one job of the store's graph; the job's own tasks nest under this task run."""
    started = time.time()
    try:
        metrics = JOBS[job](context)
    except Exception as exc:
        # A slot the Prefect server failed to grant, ours or its task engine's tag-limit check
        # (measured: a 503 on 'tag:crm' failed a demo store): not the vendor's failure.
        orchestrator = orchestrator_failure(exc) or slot_refused_by_server(exc)
        raise JobFailed(job, started, f"{type(exc).__name__}: {exc}", orchestrator) from exc
    return {"metrics": dict(metrics or {}), "started_at": started, "finished_at": time.time()}


@flow(name="store-pipeline", flow_run_name=store_run_name)
async def store_pipeline(
    store_id: str,
    jobs: list[JobName] | None = None,
    occurrences: list[str] | None = None,
    stop_at: str | None = None,
    quarantine_threshold: int = 3,
) -> Any:
    """Run the store's validated job graph (or just `jobs`) and return the run's statistics.

    `occurrences` (the tick's claims this run covers) get the run's outcome; `stop_at` (ISO
    instant) is when the store's window closes: no job starts after it.
    """
    context = FlowRunContext.get()
    flow_run_id = str(context.flow_run.id) if context and context.flow_run else None
    # Every log record of the run (its task threads' too) carries store_id and flow_run_id.
    with logfields.bind(store_id, flow_run_id):
        return await _leased(
            store_id, jobs, flow_run_id, occurrences, stop_at, quarantine_threshold
        )


async def _leased(
    store_id: str,
    jobs: list[str] | None,
    flow_run_id: str | None,
    occurrences: list[str] | None,
    stop_at: str | None,
    quarantine_threshold: int,
) -> Any:
    """The store's lease around the run: taken first, renewed while it runs, dropped after."""
    logger = get_run_logger()
    # The registry is plain (blocking) SQL: off the event loop, so that in subflow mode the
    # parent's other stores go on while SQLite waits on a lock.
    holder = flow_run_id or f"local-{uuid4()}"
    begun = await asyncio.to_thread(_begin, store_id, holder, flow_run_id, jobs, occurrences)
    taken = begun.taken
    if isinstance(taken, Held):
        logger.warning(taken.line())
        await _record_claims(store_id, occurrences, claim_states.FAILED, taken.line(), 0)
        return Cancelled(name="AlreadyRunning", message=taken.line())
    if taken is not None:
        logger.warning(
            "store %s: took over the lease of flow run %s (dead since %s); its run closed: crashed",
            store_id,
            taken.holder,
            taken.expired_at.isoformat(timespec="seconds"),
        )
    keeper = asyncio.create_task(_keep_lease(begun.leases, store_id, holder))
    try:
        return await _run_store(
            begun,
            flow_run_id,
            occurrences=occurrences,
            stop_at=datetime.fromisoformat(stop_at) if stop_at else None,
            quarantine_threshold=quarantine_threshold,
        )
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        await asyncio.to_thread(begun.leases.release, store_id, holder)


@dataclass
class _Begun:
    """What `_begin` did: the lease (`taken` as `Leases.acquire` says), then either the graph
    and the run's row, or the graph's error (no row yet)."""

    registry: Registry
    leases: Leases
    store: Any
    taken: Held | Closed | None
    graph: JobGraph | None = None
    error: GraphError | None = None
    run_id: int | None = None


def _begin(
    store_id: str,
    holder: str,
    flow_run_id: str | None,
    jobs: list[str] | None,
    occurrences: list[str] | None,
) -> _Begun:
    """Everything before the jobs, in one trip off the event loop (every store of a fan-out
    pays each trip): the store's row (an unknown store fails here, before any lease), its lease,
    the claims naming this run, the job graph, and the run's row named on the lease (so a
    takeover can close it). A lease someone else holds stops it there."""
    registry, leases = Registry(), Leases()
    store = registry.get(store_id)
    taken = leases.acquire(store_id, holder)
    if isinstance(taken, Held):
        return _Begun(registry, leases, store, taken)
    try:
        if occurrences:  # whoever started it, the claims name the run that serves them
            Claims().set_flow_run(store_id, occurrences, holder)
        try:
            graph = _graph(store, jobs)
        except GraphError as exc:
            return _Begun(registry, leases, store, taken, error=exc)
        run_id = registry.start_run(store_id, flow_run_id)
        leases.attach_run(store_id, holder, run_id)
    except BaseException:
        leases.release(store_id, holder)  # nothing runs: the store is free again
        raise
    return _Begun(registry, leases, store, taken, graph=graph, run_id=run_id)


def _graph(store: Any, jobs: list[str] | None) -> JobGraph:
    """The store's validated job graph (or `jobs`'), each job implemented."""
    graph = build_graph(
        store.jobs if jobs is None else jobs, store.dependencies, owner=f"store {store.id}"
    )
    unimplemented = [job for job in graph.jobs if job not in JOBS]
    if unimplemented:
        raise GraphError(
            f"store {store.id}: job(s) {', '.join(unimplemented)} have no implementation"
        )
    return graph


async def _keep_lease(leases: Leases, store_id: str, holder: str) -> None:
    """Renew the lease while the run lives; a renewal that fails (a database hiccup) is retried
    at the next beat, well within the lease's time to live."""
    logger = get_run_logger()
    while True:
        await asyncio.sleep(leases.renew_seconds)
        try:
            if not await asyncio.to_thread(leases.renew, store_id, holder):
                logger.warning("store %s: lease lost (taken over as expired)", store_id)
        except Exception as exc:
            logger.warning("store %s: lease renewal failed: %s", store_id, exc)


async def _record_claims(
    store_id: str,
    occurrences: list[str] | None,
    status: str,
    error: str | None,
    threshold: int,
    *,
    counted: bool = True,
) -> None:
    """The claims' outcome; a final failure of the occasion counts once toward quarantine,
    unless the orchestrator failed it (`counted=False`)."""
    if not occurrences:
        return
    finals = await asyncio.to_thread(
        Claims().finish, store_id, occurrences, status=status, error=error
    )
    if threshold < 1:
        return
    registry = Registry()
    if status == claim_states.COMPLETED:
        await asyncio.to_thread(registry.record_outcome, store_id, True, None, threshold)
    elif claim_states.FAILED in finals and counted:
        await asyncio.to_thread(registry.record_outcome, store_id, False, error, threshold)


async def _run_store(
    begun: _Begun,
    flow_run_id: str | None,
    *,
    occurrences: list[str] | None,
    stop_at: datetime | None,
    quarantine_threshold: int,
) -> dict[str, Any]:
    logger = get_run_logger()
    registry, store = begun.registry, begun.store
    store_id = store.id
    if begun.error is not None:
        run_id = await asyncio.to_thread(registry.start_run, store_id, flow_run_id)
        error = str(begun.error)
        await asyncio.to_thread(registry.finish_run, run_id, "failed", error=error)
        await _record_claims(
            store_id, occurrences, claim_states.FAILED, error, quarantine_threshold
        )
        raise begun.error
    graph, run_id = begun.graph, begun.run_id
    assert graph is not None and run_id is not None
    api_before = apicounts.snapshot(store_id)
    settings = get_settings()
    started = time.time()
    run_date = datetime.now(UTC).date()
    try:
        records = await _run_graph(
            graph,
            lambda upstream: JobContext(
                store=store, run_date=run_date, data_dir=settings.data_dir, upstream=upstream
            ),
            stop_at=stop_at,
            max_jobs=store.max_concurrent_jobs,
        )
        stats = run_statistics(
            store_id, graph, records, started_at=started, finished_at=time.time()
        )
        stats["api"] = apicounts.since(api_before, store_id)  # calls, 429s, 5xx, retries
    except BaseException as exc:  # cancelled or crashed: the run must not stay "running"
        # A second cancellation may interrupt this await, but not the thread: the row is written.
        error = f"{type(exc).__name__}: {exc}"
        await asyncio.to_thread(registry.finish_run, run_id, "failed", error=error)
        await _record_claims(
            store_id, occurrences, claim_states.FAILED, error, quarantine_threshold
        )
        raise
    problem = _problem(store_id, records)
    stopped = [r.name for r in records.values() if r.status == STOPPED]
    status = "failed" if problem else ("stopped" if stopped else "completed")
    await asyncio.to_thread(registry.finish_run, run_id, status, error=problem, metrics=stats)
    claim_status = {
        "failed": claim_states.FAILED,
        "stopped": claim_states.STOPPED,
        "completed": claim_states.COMPLETED,
    }[status]
    counted = not stats["orchestrator_failure"]
    if not counted:
        logger.warning(
            "store %s: its failed jobs failed on the Prefect server (no pool slot granted), "
            "not on a vendor: not counted toward quarantine",
            store_id,
        )
    await _record_claims(
        store_id, occurrences, claim_status, problem, quarantine_threshold, counted=counted
    )
    # Only now what lives on the Prefect server: the outcome above is recorded whatever it does.
    await _publish(graph, stats, store_id, settings.data_dir)
    if stopped:
        logger.warning(
            "store %s: window closed at %s; stopped by the window: %s",
            store_id,
            stop_at.isoformat(timespec="seconds") if stop_at else "?",
            ", ".join(stopped),
        )
    logger.info(
        "store %s: %d completed, %d failed, %d blocked in %.1f s",
        store_id,
        stats["successful_jobs"],
        stats["failed_jobs"],
        stats["blocked_jobs"],
        stats["processing_seconds"],
    )
    if problem:
        raise StorePipelineError(problem)
    return stats


async def _publish(graph: JobGraph, stats: dict[str, Any], store_id: str, data_dir: Any) -> None:
    """The job graph artifact, through a Prefect server restart (multistore/orchestrator.py); a
    server that stays away costs the artifact only (the figures are in the registry)."""
    try:
        await athrough_outage(
            lambda: acreate_markdown_artifact(
                render_markdown(graph, stats, data_dir=data_dir),
                key=f"store-pipeline-{store_id}",
                description=f"Job graph run of store {store_id}",
            ),
            what=f"writing the job graph artifact of store {store_id}",
        )
    except Exception as exc:
        get_run_logger().warning(
            "store %s: its job graph artifact was not saved (%s: %s)",
            store_id,
            type(exc).__name__,
            exc,
        )


async def _run_graph(
    graph: JobGraph,
    make_context: Callable[[dict[str, dict]], JobContext],
    *,
    stop_at: datetime | None = None,
    max_jobs: int | None = None,
    submit: Callable[[str, JobContext], Awaitable[JobRecord]] | None = None,
) -> dict[str, JobRecord]:
    """A ready queue: start each job whose dependencies completed; block dependents of failures.

    At most `max_jobs` jobs run at once (the store's `max_concurrent_jobs`; None: every ready
    job starts); a ready job past the cap starts, in graph order, when a running one ends.
    `submit` runs one job to its record (default: as a task run; tests pass their own).
    Our own loop rather than Prefect's `wait_for`, so that "blocked" means exactly "a dependency
    did not complete" and a blocked job never becomes a task run.
    """
    submit = submit or _submit_task
    records: dict[str, JobRecord] = {}
    running: dict[asyncio.Future[JobRecord], str] = {}
    pending = list(graph.jobs)
    while pending or running:
        if stop_at is not None and pending and datetime.now(UTC) >= stop_at:
            # The window closed: nothing new starts; what runs finishes.
            for job in pending:
                records[job] = JobRecord(job, STOPPED, error="stopped by the window")
            pending = []
        changed = True
        while changed:  # blocking cascades down the graph in one pass per level
            changed = False
            for job in list(pending):
                deps = graph.dependencies[job]
                culprit = next(
                    (d for d in deps if d in records and records[d].status != COMPLETED), None
                )
                if culprit is not None:
                    root = records[culprit].blocked_by or culprit
                    records[job] = JobRecord(job, BLOCKED, blocked_by=root)
                    pending.remove(job)
                    changed = True
                elif all(d in records for d in deps):
                    if max_jobs is not None and len(running) >= max_jobs:
                        continue  # the store's cap: it starts when a running job ends
                    upstream = {d: records[d].metrics for d in deps}
                    started = asyncio.ensure_future(submit(job, make_context(upstream)))
                    running[started] = job
                    pending.remove(job)
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for finished in done:
            records[running.pop(finished)] = finished.result()
    return {job: records[job] for job in graph.jobs}


async def _submit_task(job: str, context: JobContext) -> JobRecord:
    """The job as a task run named for it, to its record."""
    future = run_job.with_options(task_run_name=job).submit(job, context)
    return await _record(job, await _state_of(future))


def _state_of(future: PrefectConcurrentFuture) -> asyncio.Future:
    # The thread pool's future resolves to the task run's final State.
    return asyncio.wrap_future(future.wrapped_future)


async def _record(job: str, state: State) -> JobRecord:
    outcome = await state.aresult(raise_on_failure=False)
    if state.is_completed() and isinstance(outcome, dict):
        return JobRecord(
            job,
            COMPLETED,
            started_at=outcome["started_at"],
            finished_at=outcome["finished_at"],
            metrics=outcome["metrics"],
        )
    if isinstance(outcome, JobFailed):
        return JobRecord(
            job,
            FAILED,
            started_at=outcome.started_at,
            finished_at=time.time(),
            error=str(outcome),
            orchestrator=outcome.orchestrator,
        )
    message = str(outcome) if isinstance(outcome, BaseException) else (state.message or state.name)
    return JobRecord(job, FAILED, finished_at=time.time(), error=message)


def _problem(store_id: str, records: dict[str, JobRecord]) -> str | None:
    failed = [f"{r.name} ({r.error})" for r in records.values() if r.status == FAILED]
    blocked = [r.name for r in records.values() if r.status == BLOCKED]
    if not failed and not blocked:
        return None
    parts = [f"failed: {'; '.join(failed)}"] if failed else []
    if blocked:
        parts.append(f"blocked: {', '.join(blocked)}")
    return f"store {store_id}: " + "; ".join(parts)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m flows.store_pipeline STORE [JOB ...]", file=sys.stderr)
        return 2
    state = asyncio.run(store_pipeline(argv[0], argv[1:] or None, return_state=True))
    result = asyncio.run(state.aresult(raise_on_failure=False))
    if isinstance(result, BaseException):
        print(f"store {argv[0]}: {result}", file=sys.stderr)
        return 1
    print(
        f"store {argv[0]}: {result['successful_jobs']}/{result['total_jobs']} jobs completed "
        f"in {result['processing_seconds']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
