"""The parent flow: run every due store's pipeline, a bounded number at a time, and report.

1. plan: the stores asked for that are enabled, not quarantined and inside their window, in
   priority order (HIGH, MEDIUM, LOW; least recently run first); every other one is skipped with
   its reason;
2. fan out: at most `max_concurrent_stores` store runs at once, each its own flow run (a subflow
   here, or a run of the `store-pipeline/default` deployment on a work pool's workers); a store
   whose window closed while it waited is not started;
3. isolate failures: a failed store is retried later in the same run, up to `max_retries` times
   with exponential backoff, while the others go on;
4. record each store's outcome; `quarantine_threshold` failed runs in a row quarantine a store;
5. publish the report (table, markdown and progress artifacts; JSON under data/reports/) and end
   Failed when any selected store failed, so that automations can alert.

The flow has no flow-level retries on purpose: a retry would run every store again and count
their failures twice toward quarantine. Store-level retries (`max_retries`) are its retries, and
the selection task retries a registry database that was briefly unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.deployments import arun_deployment
from prefect.exceptions import MissingContextError, PrefectHTTPStatusError
from prefect.settings import PREFECT_UI_URL
from prefect.states import Cancelled, Cancelling, Completed, Crashed, Failed, State
from sqlalchemy.exc import OperationalError

from flows.events import emit_store_event
from flows.run_names import parent_run_name, store_attempt_name
from multistore import logfields
from multistore import report as reports
from multistore.board import BOARD_KEY, board_rows
from multistore.claims import Claims
from multistore.db import DatabaseUnavailable
from multistore.leases import Leases
from multistore.orchestrator import athrough_outage
from multistore.planning import Plan, plan
from multistore.registry import Priority, Registry, Store
from multistore.revision import code_identity
from multistore.run_options import JobName, PriorityChoice, Region
from multistore.settings import get_settings
from multistore.store_events import STORE_EVENT
from multistore.ticking import sweep
from multistore.windows import is_open, next_open

STORE_DEPLOYMENT = "store-pipeline/default"
# The store pipeline's state when its store was already running (flows/store_pipeline.py).
ALREADY_RUNNING_STATE = "AlreadyRunning"
# The parent's state when none of the stores asked for ran (the CLI exits 1 on it): Cancelled,
# grey in the UI, named Skipped, so that a store skipped by its window never looks like success.
NOTHING_RAN_STATE = "Skipped"
QUARANTINE_EVENT = STORE_EVENT.format("quarantined")
# Creating a deployment run survives this many 503s (SQLite under load), backing off 1, 2, 4… s.
POLL_SECONDS = 1.0
# How often a waiting parent asks the registry whether its store run's lease expired: every
# 15 s, or a third of the store lease when that is shorter (a short lease is set to learn of a
# dead run quickly; asking only every 15 s would throw that away).
DEATH_CHECK_SECONDS = 15.0
MONITOR_SECONDS = 1.0
# The progress writes' share of the parent's time is at most 1/WRITE_SHARE (see _monitor).
WRITE_SHARE = 20


@dataclass
class StoreAttempt:
    """What one run of a store's pipeline ended as."""

    ok: bool
    flow_run_id: str | None
    error: str | None
    stats: dict[str, Any] | None
    # Set when the store pipeline refused to start: its store was already running (the line).
    already_running: str | None = None


@flow(name="run-stores", log_prints=False, flow_run_name=parent_run_name)
async def run_stores(
    stores: list[str] | None = None,
    priority: PriorityChoice | None = None,
    region: Region | None = None,
    jobs: list[JobName] | None = None,
    dry_run: bool = False,
    ignore_windows: bool = False,
    max_concurrent_stores: int = 4,
    max_retries: int = 2,
    backoff_seconds: float = 10.0,
    backoff_multiplier: float = 2.0,
    quarantine_threshold: int = 3,
    store_deployment: str | None = None,
    store_timeout_seconds: float = 4 * 3600,
) -> State:
    """Run the due stores' pipelines and publish one report.

    `stores`, `priority` and `region` narrow the selection (all enabled stores by default); `jobs`
    overrides each store's job list. `ignore_windows` runs stores whose processing window is closed
    (an ad hoc re-run); disabled and quarantined stores stay skipped. `store_deployment` (e.g.
    "store-pipeline/default") runs each store as a run of that deployment on its work pool; None
    runs them as subflows in this process. `store_timeout_seconds` (deployment path) bounds the wait
    for each store run to reach a final state: a run still not final then (a worker killed with
    -9 leaves its run RUNNING for ever) is set CANCELLING (CANCELLED if it never started) and the
    attempt counts as failed, so the parent does not hold its slot for ever.
    The n-th retry of a store waits `backoff_seconds * backoff_multiplier ** (n - 1)`.
    """
    _check_parameters(max_concurrent_stores, max_retries, backoff_multiplier, quarantine_threshold)
    if not store_timeout_seconds > 0:
        raise ValueError(f"store_timeout_seconds must be more than 0, got {store_timeout_seconds}")
    logger = get_run_logger()
    settings = get_settings()
    context = FlowRunContext.get()
    flow_run_id = str(context.flow_run.id) if context and context.flow_run else None

    # Instant backoff (tests) retries an unreachable registry at once; production waits 2 s, 10 s.
    select = (
        select_stores.with_options(retry_delay_seconds=0)
        if settings.instant_backoff
        else select_stores
    )
    chosen = select(stores, priority, region, ignore_windows)
    registry = Registry()
    report = reports.RunReport(
        flow_run_id=flow_run_id,
        dry_run=dry_run,
        code=code_identity(),
        parameters={
            "stores": stores,
            "priority": priority,
            "region": region,
            "jobs": jobs,
            "ignore_windows": ignore_windows,
            "max_concurrent_stores": max_concurrent_stores,
            "max_retries": max_retries,
            "backoff_seconds": backoff_seconds,
            "backoff_multiplier": backoff_multiplier,
            "quarantine_threshold": quarantine_threshold,
            "store_deployment": store_deployment,
            "store_timeout_seconds": store_timeout_seconds,
        },
        stores=[
            reports.StoreEntry(
                store.id,
                getattr(store.priority, "value", str(store.priority)),
                timezone=store.timezone,
            )
            for store in chosen.selected
        ],
        skipped=[
            reports.SkipEntry(skip.store_id, skip.reason, _iso(skip.next_open), skip.detail)
            for skip in chosen.skipped
        ],
    )
    logger.info(
        "%d stores selected, %d skipped%s",
        len(chosen.selected),
        len(chosen.skipped),
        " (dry run: nothing starts)" if dry_run else "",
    )
    if dry_run:
        report.finish()
        report.state = "dry-run"
        return await _publish(report, settings.data_dir, final_state=Completed)
    if chosen.skipped:
        ids = [skip.store_id for skip in chosen.skipped]
        skipped_stores = {s.id: s for s in await asyncio.to_thread(registry.list, ids=ids)}
        for skip in chosen.skipped:
            _emit_skipped(skipped_stores.get(skip.store_id), skip.reason, skip.detail)

    reports.save_progress(report, settings.data_dir)
    progress = await acreate_progress_artifact(
        0.0, key="store-run-progress", description="Selected stores finished"
    )
    runner: Callable[[Store, int], Awaitable[StoreAttempt]]
    if store_deployment:
        runner = _DeploymentRunner(
            store_deployment, jobs, flow_run_id, timeout_seconds=store_timeout_seconds
        ).run
    else:
        runner = _SubflowRunner(jobs).run

    gate = asyncio.Semaphore(max_concurrent_stores)
    changed = asyncio.Event()

    async def one_store(store: Store) -> None:
        entry = report.entry(store.id)
        await _run_with_retries(
            store,
            entry,
            runner=runner,
            gate=gate,
            max_retries=max_retries,
            delays=_backoff_delays(
                max_retries, backoff_seconds, backoff_multiplier, settings.instant_backoff
            ),
            on_change=changed.set,
            ignore_windows=ignore_windows,
        )
        if entry.status == reports.COMPLETED and len(entry.attempt_log) > 1:
            await _mark_retried(entry)
        if entry.status == reports.NOT_STARTED:
            # Its window closed before its first start, or it was running elsewhere: a skip,
            # not a failure of the store.
            report.stores.remove(entry)
            closed = (entry.error or "").startswith("window")
            report.skipped.append(
                reports.SkipEntry(
                    store.id,
                    "outside window" if closed else "already running",
                    _next_open(store) if closed else None,
                    entry.error or "",
                )
            )
            _emit_skipped(store, "window closed" if closed else "already running", entry.error)
        else:
            # The registry is plain (blocking) SQL: off the event loop, so other stores go on.
            # A failure to record (a locked database, say) stays with this store: it must not
            # abandon the other stores or the report. No retry: the increment is not idempotent.
            in_a_row = None
            try:
                in_a_row = await asyncio.to_thread(
                    _record_outcome, registry, store, entry, quarantine_threshold, logger
                )
            except Exception as exc:
                why = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                problem = f"outcome not recorded in the registry: {why}"
                logger.warning("store %s: %s", store.id, problem)
                entry.error = f"{entry.error}; {problem}" if entry.error else problem
            _emit_outcome(store, entry, in_a_row, quarantine_threshold)
        changed.set()

    monitor = asyncio.create_task(
        _monitor(report, progress, changed, settings.data_dir, len(chosen.selected))
    )
    try:
        # Tasks are created in run order and the semaphore serves waiters first come, first
        # served, so the priorities decide who starts when a slot frees.
        await asyncio.gather(*(one_store(store) for store in chosen.selected))
    finally:
        monitor.cancel()
        await asyncio.gather(monitor, return_exceptions=True)
    await aupdate_progress_artifact(progress, 100.0)
    report.finish()
    if report.state == reports.SKIPPED:
        # Stores were asked for and none ran: say so in the state and the run's name.
        await _name_skipped(context, report)
        return await _publish(report, settings.data_dir, final_state=_nothing_ran)
    return await _publish(
        report,
        settings.data_dir,
        final_state=Completed if report.state == reports.COMPLETED else Failed,
    )


def _nothing_ran(message: str, data: Any) -> State:
    return Cancelled(name=NOTHING_RAN_STATE, message=f"nothing ran: {message}", data=data)


async def _name_skipped(context: FlowRunContext | None, report: reports.RunReport) -> None:
    """'adhoc: west — skipped: outside window': the runs list says it without a click."""
    if not (context and context.flow_run):
        return
    reasons = ", ".join(dict.fromkeys(skip.reason for skip in report.skipped))
    name = f"{context.flow_run.name} — skipped: {reasons}"
    try:
        async with get_client() as client:
            await _with_server_retries(
                lambda: client.update_flow_run(context.flow_run.id, name=name),
                "naming the parent run",
            )
    except Exception as exc:  # the name is a view: the state and the report still say it
        get_run_logger().warning("run not renamed: %s: %s", type(exc).__name__, exc)


def _database_hiccup(task: Any, task_run: Any, state: State) -> bool:
    """Retry when the registry's database was unreachable, not for an unknown store id."""
    # multistore.db reports an unreachable database as DatabaseUnavailable (one line), not as
    # the driver's OperationalError: both are a hiccup worth retrying.
    return isinstance(state.result(raise_on_failure=False), (OperationalError, DatabaseUnavailable))


@task(
    retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_database_hiccup, cache_policy=NONE
)
def select_stores(
    stores: list[str] | None, priority: str | None, region: str | None, ignore_windows: bool = False
) -> Plan:
    """The plan now: who runs in what order, who is skipped and why (planning.plan)."""
    now = datetime.now(UTC)
    return plan(
        Registry().list(),
        now,
        only_ids=stores or None,
        priority=Priority.parse(priority) if priority else None,
        region=region,
        ignore_windows=ignore_windows,
        running={store_id: held.line() for store_id, held in Leases().live(now=now).items()},
    )


def _check_parameters(
    max_concurrent_stores: int, max_retries: int, backoff_multiplier: float, threshold: int
) -> None:
    """Refuse nonsense before anything starts: one line naming the parameter."""
    if max_concurrent_stores < 1:
        raise ValueError(f"max_concurrent_stores must be at least 1, got {max_concurrent_stores}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
    if backoff_multiplier < 1:
        raise ValueError(f"backoff_multiplier must be at least 1, got {backoff_multiplier}")
    if threshold < 1:
        raise ValueError(f"quarantine_threshold must be at least 1, got {threshold}")


def _backoff_delays(retries: int, base: float, multiplier: float, instant: bool) -> list[float]:
    """The wait before each retry: base, base·m, base·m²… (all zero with instant backoff)."""
    return [0.0 if instant else base * multiplier**n for n in range(retries)]


async def _run_with_retries(
    store: Store,
    entry: reports.StoreEntry,
    *,
    runner: Callable[[Store, int], Awaitable[StoreAttempt]],
    gate: asyncio.Semaphore,
    max_retries: int,
    delays: list[float],
    on_change: Callable[[], Any],
    ignore_windows: bool = False,
) -> None:
    """Run one store until it completes or has failed `max_retries + 1` times.

    The store holds a slot only while it runs: between attempts it waits outside the gate, so
    other stores use the slot meanwhile.
    """
    began: float | None = None
    for attempt in range(1, max_retries + 2):
        async with gate:
            if not ignore_windows and not _window_open(store):
                closed = f"window {store.window_start}-{store.window_end} closed while queued"
                if attempt == 1:
                    entry.status, entry.error = reports.NOT_STARTED, closed
                else:
                    entry.status = reports.FAILED
                    entry.error = f"{entry.error} (no retry: {closed})"
                break
            entry.status, entry.attempts = reports.RUNNING, attempt
            emit_store_event("started", store, {"attempt": attempt})
            if began is None:
                began = time.monotonic()
                entry.started_at = datetime.now(UTC).isoformat()
            on_change()
            attempt_started = datetime.now(UTC).isoformat()
            try:
                outcome = await runner(store, attempt)
            except Exception as exc:
                # Starting or watching the run broke (the server away too long, a store that
                # vanished): this store's failure, never the end of the others.
                error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                outcome = StoreAttempt(ok=False, flow_run_id=None, error=error, stats=None)
        if outcome.already_running:
            # Started elsewhere meanwhile (the tick, another parent): a skip, not a failure.
            entry.status, entry.error = reports.NOT_STARTED, outcome.already_running
            break
        entry.record_attempt(
            attempt,
            flow_run_id=outcome.flow_run_id,
            ok=outcome.ok,
            error=outcome.error,
            started_at=attempt_started,
        )
        if outcome.flow_run_id:
            entry.flow_run_ids.append(outcome.flow_run_id)
        entry.absorb_stats(outcome.stats)
        entry.error = outcome.error
        if outcome.ok:
            entry.status = reports.COMPLETED
            break
        if attempt > max_retries:
            entry.status = reports.FAILED
            break
        entry.status = reports.RETRY_WAIT
        on_change()
        await asyncio.sleep(delays[attempt - 1])
    # From the first start to the end: time queued for a slot is not the store's duration.
    entry.duration_seconds = 0.0 if began is None else time.monotonic() - began
    entry.finished_at = datetime.now(UTC).isoformat()


RETRIED = "Retried"


async def _mark_retried(entry: reports.StoreEntry) -> None:
    """A store that completed on a retry leaves no red run behind: each failed attempt's run
    becomes a grey Cancelled-type state named "Retried" whose message keeps the error and names
    the attempt that completed. (Its Failed state stays in the run's state history; the report
    lists every attempt's error.) Best effort: a failure here is logged, the store is completed.
    """
    final = entry.attempt_log[-1]
    for attempt in entry.attempt_log[:-1]:
        if not attempt["flow_run_id"] or attempt["outcome"] != reports.FAILED:
            continue
        message = (
            f"attempt {attempt['attempt']} failed ({attempt['error']}); store {entry.store_id} "
            f"completed on attempt {final['attempt']} (flow run {final['flow_run_id']})"
        )
        try:
            await _with_server_retries(
                lambda run_id=attempt["flow_run_id"], text=message: _set_retried(run_id, text),
                f"marking a retried run of store {entry.store_id}",
            )
        except Exception as exc:
            get_run_logger().warning(
                "store %s: attempt %s's run not marked retried: %s: %s",
                entry.store_id,
                attempt["attempt"],
                type(exc).__name__,
                " ".join(str(exc).split()),
            )


async def _set_retried(flow_run_id: str, message: str) -> None:
    async with get_client() as client:
        await client.set_flow_run_state(
            UUID(flow_run_id),
            State(type=StateType.CANCELLED, name=RETRIED, message=message),
            force=True,
        )


async def _with_server_retries(call: Callable[[], Awaitable[Any]], what: str) -> Any:
    """`call()` through a busy or restarting Prefect server (5xx, 429, a refused connection;
    SQLite's "database is locked" is a 503) for up to five minutes (multistore/orchestrator.py):
    the orchestrator's hiccup must not fail a store. Tests' instant backoff waits no time."""
    sleep = _no_wait if get_settings().instant_backoff else asyncio.sleep
    return await athrough_outage(call, what=what, sleep=sleep)


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0.01)  # no backoff, but no busy loop either


def _record_outcome(
    registry: Registry, store: Store, entry: reports.StoreEntry, threshold: int, logger: Any
) -> int:
    """Count the outcome in the registry; the store's failed runs in a row now."""
    ok = entry.status == reports.COMPLETED
    if not ok and entry.orchestrator_failure:
        # The Prefect server did not grant its pool slots: not the store's failure.
        logger.warning(
            "store %s: failed on the Prefect server, not a vendor: not counted toward quarantine",
            store.id,
        )
        return registry.get(store.id).consecutive_failures
    quarantined = registry.record_outcome(store.id, ok, entry.error, threshold=threshold)
    if quarantined:
        entry.quarantined = True
        logger.warning(
            "store %s quarantined after %d failed runs in a row: %s",
            store.id,
            threshold,
            entry.error,
        )
    return 0 if ok else registry.get(store.id).consecutive_failures


def _emit_outcome(
    store: Store, entry: reports.StoreEntry, in_a_row: int | None, threshold: int
) -> None:
    """completed, or failed (labelled with the failures in a row) and perhaps quarantined."""
    payload = {
        "attempts": entry.attempts,
        "flow_run_ids": entry.flow_run_ids,
        "error": entry.error,
        "duration_seconds": entry.duration_seconds,
    }
    if entry.status == reports.COMPLETED:
        emit_store_event("completed", store, payload)
        return
    labels = {} if in_a_row is None else {"multistore.failures-in-a-row": in_a_row}
    emit_store_event("failed", store, payload, **labels)
    if entry.quarantined:
        emit_store_event("quarantined", store, {**payload, "threshold": threshold})


def _emit_skipped(store: Store | None, reason: str, detail: str | None) -> None:
    if store is not None:
        emit_store_event("skipped", store, {"detail": detail}, **{"multistore.reason": reason})


def _window_open(store: Store) -> bool:
    return is_open(store.window_start, store.window_end, store.timezone, datetime.now(UTC))


def _next_open(store: Store) -> str | None:
    return _iso(next_open(store.window_start, store.window_end, store.timezone, datetime.now(UTC)))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _stats_from_registry(registry: Registry, store_id: str, flow_run_id: str) -> dict | None:
    """The statistics the store pipeline recorded for that flow run (also when it failed)."""
    # Newest first: the run just finished is among the last few (one run per store at a time).
    for run in registry.history(store_id, limit=10):
        if str(run.flow_run_id) == flow_run_id:
            return {**(run.metrics or {}), "_error": run.error, "_status": run.status}
    return None


# The attempt a subflow call is for, read by the runner's pipeline's name template.
_ATTEMPT: ContextVar[int] = ContextVar("multistore_store_attempt", default=1)


def _attempt_run_name() -> str:
    """`sunset-ford attempt 2`: the store from the run's parameters, the attempt from the call."""
    from prefect.runtime import flow_run

    return store_attempt_name(flow_run.parameters["store_id"], _ATTEMPT.get())


class _SubflowRunner:
    """Each store as a subflow of this run, in this process (the embedded default)."""

    def __init__(self, jobs: list[str] | None) -> None:
        from flows.store_pipeline import store_pipeline

        self.jobs = jobs
        # One variant for every store and attempt: `with_options` rebuilds the flow's parameter
        # schema, and built per call it cost a fan-out as much CPU as the store runs' own code.
        self.pipeline = store_pipeline.with_options(flow_run_name=_attempt_run_name)

    async def run(self, store: Store, attempt: int) -> StoreAttempt:
        token = _ATTEMPT.set(attempt)
        try:
            # The subflow's own engine records (its start, its final state) carry store_id too.
            with logfields.bind(store.id, None):
                state = await self.pipeline(store_id=store.id, jobs=self.jobs, return_state=True)
        finally:
            _ATTEMPT.reset(token)
        flow_run_id = state.state_details.flow_run_id
        stats = None
        if state.is_completed():
            result = await state.aresult(raise_on_failure=False)
            stats = result if isinstance(result, dict) else None
        run_id = str(flow_run_id) if flow_run_id else None
        if stats is not None:  # completed, its statistics in hand: no registry read to wait on
            return _attempt(store.id, state, run_id, stats)
        return await asyncio.to_thread(_attempt, store.id, state, run_id, stats)


class _DeploymentRunner:
    """Each store as a run of a deployment, picked up by the work pool's workers.

    Runs are created one at a time (a burst of creations crashed parents on 503s) with an
    idempotency key, so a creation retried after a 503 never makes a second run.
    """

    def __init__(
        self,
        deployment: str,
        jobs: list[str] | None,
        parent_id: str | None,
        *,
        timeout_seconds: float = 4 * 3600,
    ) -> None:
        self.deployment = deployment
        self.jobs = jobs
        self.parent_id = parent_id or "local"
        self.timeout_seconds = timeout_seconds
        self._create_lock = asyncio.Lock()

    async def run(self, store: Store, attempt: int) -> StoreAttempt:
        async with self._create_lock:
            flow_run = await self._create(store, attempt)
        state = await _wait_final(
            flow_run.id, self.timeout_seconds, dead=lambda: _died(store.id, str(flow_run.id))
        )
        if isinstance(state, str):  # its process died: known from its lease, not the timeout
            get_run_logger().warning("%s; flow run %s set Crashed", state, flow_run.id)
            await _stop_run(flow_run.id, state, crashed=True)
            return StoreAttempt(ok=False, flow_run_id=str(flow_run.id), error=state, stats=None)
        if state is None:
            error = f"store {store.id}: no final state after {self.timeout_seconds:g} s"
            get_run_logger().warning("%s; stopping flow run %s", error, flow_run.id)
            await _stop_run(flow_run.id, error)
            return StoreAttempt(ok=False, flow_run_id=str(flow_run.id), error=error, stats=None)
        return await asyncio.to_thread(_attempt, store.id, state, str(flow_run.id), None)

    async def _create(self, store: Store, attempt: int) -> Any:
        parameters: dict[str, Any] = {"store_id": store.id}
        if self.jobs is not None:
            parameters["jobs"] = self.jobs
        return await _with_server_retries(
            lambda: arun_deployment(
                self.deployment,
                parameters=parameters,
                flow_run_name=store_attempt_name(store.id, attempt),
                timeout=0,
                as_subflow=True,
                tags=["multistore", f"store:{store.id}"],
                idempotency_key=f"{self.parent_id}:{store.id}:{attempt}",
            ),
            f"starting attempt {attempt} of store {store.id}",
        )


def _attempt(
    store_id: str, state: State, flow_run_id: str | None, stats: dict[str, Any] | None
) -> StoreAttempt:
    """The attempt's outcome, with the statistics the pipeline recorded in the registry."""
    if state.is_completed() and stats is not None:
        # The subflow handed its statistics back: nothing to read (a history read per store
        # was a query and up to ten rows of metrics parsed, on every store of the fan-out).
        return StoreAttempt(ok=True, flow_run_id=flow_run_id, error=None, stats=stats)
    recorded = _stats_from_registry(Registry(), store_id, flow_run_id) if flow_run_id else None
    error = None
    recorded_status = None
    if recorded is not None:
        recorded_error = recorded.pop("_error", None)
        recorded_status = recorded.pop("_status", None)
        stats = stats or recorded
    else:
        recorded_error = None
    if state.name == ALREADY_RUNNING_STATE:
        return StoreAttempt(False, flow_run_id, state.message, None, already_running=state.message)
    ok = state.is_completed()
    if not ok and state.is_crashed() and recorded_status == "completed":
        # Reconciled: the run recorded its store as completed (results written, outcome in the
        # registry) and only its final state never reached the Prefect server (a restart
        # outlasting the client's retries): running the store again would redo finished work.
        _logger().warning(
            "store %s: flow run %s ended %s, but the store completed (registry): counted completed",
            store_id,
            flow_run_id,
            state.name,
        )
        ok = True
    if not ok:
        error = recorded_error or f"{state.name}: {state.message or 'no message'}"
    return StoreAttempt(ok=ok, flow_run_id=flow_run_id, error=error, stats=stats)


def _logger() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:  # called outside a run (a test)
        return logging.getLogger("multistore.run_stores")


def _transient(exc: Exception) -> bool:
    if isinstance(exc, PrefectHTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return True


def _died(store_id: str, flow_run_id: str) -> str | None:
    """Why the store run is dead, when its lease says so (multistore/leases.py); else None.

    A run that took its store's lease and stopped renewing it (its process was killed) is dead
    once the lease expires: within 2 minutes, not when `store_timeout_seconds` runs out.
    """
    closed = [c for c in sweep(Claims(), Leases(), datetime.now(UTC)) if c.holder == flow_run_id]
    if closed:
        expired = closed[0].expired_at.isoformat(timespec="seconds")
        return f"store {store_id}: its run died (lease expired at {expired}); row closed as crashed"
    for run in Registry().history(store_id, limit=5):
        if run.flow_run_id == flow_run_id and run.status == "crashed":
            return f"store {store_id}: its run died ({run.error})"
    return None


async def _wait_final(
    flow_run_id: UUID,
    timeout_seconds: float,
    *,
    dead: Callable[[], str | None] | None = None,
) -> State | str | None:
    """Poll the run until it reaches a final state; a failed poll (a 503) is just tried again.

    None when it is still not final after `timeout_seconds`; the reason, when `dead` (asked every
    `DEATH_CHECK_SECONDS` or a third of the store lease, off the event loop) says the run died.
    """
    deadline = time.monotonic() + timeout_seconds
    every = min(DEATH_CHECK_SECONDS, get_settings().store_lease_seconds / 3)
    next_check = time.monotonic() + every
    async with get_client() as client:
        while time.monotonic() < deadline:
            if dead is not None and time.monotonic() >= next_check:
                next_check = time.monotonic() + every
                try:
                    why = await asyncio.to_thread(dead)
                except Exception:  # a registry hiccup: ask again at the next check
                    why = None
                if why:
                    return why
            try:
                run = await client.read_flow_run(flow_run_id)
                if run.state is not None and run.state.is_final():
                    return run.state
            except (PrefectHTTPStatusError, httpx.TransportError) as exc:
                if not _transient(exc):
                    raise
            await asyncio.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
    return None


async def _stop_run(flow_run_id: UUID, message: str, *, crashed: bool = False) -> None:
    """Stop a run that overran: CANCELLING (its worker kills it), CANCELLED if it never started.

    Best effort: a failure is logged, the attempt is failed either way.
    """
    try:
        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return
            started = run.state is not None and (run.state.is_running() or run.state.is_paused())
            new_state = Cancelling(message=message) if started else Cancelled(message=message)
            if crashed:  # nobody is left to cancel: say what happened
                new_state = Crashed(message=message)
            await client.set_flow_run_state(flow_run_id, new_state, force=True)
    except Exception as exc:
        get_run_logger().warning(
            "flow run %s: could not be stopped: %s: %s",
            flow_run_id,
            type(exc).__name__,
            " ".join(str(exc).split()),
        )


async def _monitor(
    report: reports.RunReport, progress: Any, changed: asyncio.Event, data_dir: Any, total: int
) -> None:
    """Once a second: the pools' peak slots in use, and the report in progress when it changed.

    Batched here rather than written on every change: with hundreds of stores, rewriting the
    report (and the progress artifact) at each start and finish cost more than the stores.
    The report grows with the stores, so a write that took d seconds is followed by the next
    one no sooner than WRITE_SHARE·d later: the writes cost at most 1/WRITE_SHARE of the
    parent's time however many stores run (once a second, they made a fan-out quadratic).
    """
    next_write = 0.0
    async with get_client() as client:
        while True:
            try:
                limits = await client.read_global_concurrency_limits(limit=200)
            except (PrefectHTTPStatusError, httpx.TransportError):
                limits = []
            now = datetime.now(UTC)
            for limit in limits:
                if limit.name.startswith("deployment:"):
                    continue  # Prefect's own deployment concurrency limits, not a pool
                report.sample_pool(limit.name, limit.limit, limit.active_slots, at=now)
            if changed.is_set() and time.monotonic() >= next_write:
                changed.clear()
                began = time.monotonic()
                reports.save_progress(report, data_dir)
                done = sum(entry.status in reports.FINAL for entry in report.stores)
                await aupdate_progress_artifact(progress, 100.0 * done / max(total, 1))
                next_write = began + WRITE_SHARE * (time.monotonic() - began)
            await asyncio.sleep(MONITOR_SECONDS)


async def publish_board() -> None:
    """Every store's row on the store board (one key: the UI keeps its history)."""
    registry = Registry()
    stores, last_runs = await asyncio.gather(
        asyncio.to_thread(registry.list), asyncio.to_thread(registry.last_runs)
    )
    rows = board_rows(stores, last_runs, datetime.now(UTC))
    await acreate_table_artifact(
        rows, key=BOARD_KEY, description="Every store: state, window, last outcome, next due"
    )


async def _publish(report: reports.RunReport, data_dir: Any, *, final_state: type) -> State:
    """Save the report and attach it to the flow run; the run ends in `final_state`."""
    path = reports.save_final(report, data_dir)
    payload = report.to_dict()
    # The report is on disk already; a busy server (503) delays its artifacts, never loses them.
    await _with_server_retries(
        lambda: acreate_table_artifact(
            reports.table_rows(payload), key="store-run-report", description="One row per store"
        ),
        "writing the report's table artifact",
    )
    await _with_server_retries(
        lambda: acreate_markdown_artifact(
            reports.render_markdown(payload, ui_url=PREFECT_UI_URL.value()),
            key="store-run-summary",
            description="The report: stores, attempts and errors, skips, compliance, pools",
        ),
        "writing the report's summary artifact",
    )
    try:
        await publish_board()
    except Exception as exc:  # the board is a view: its failure must not lose the report
        get_run_logger().warning("store board not updated: %s: %s", type(exc).__name__, exc)
    totals = payload["totals"]
    message = (
        f"{totals['completed']} completed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped, {totals['quarantined']} quarantined; report {path}"
    )
    if final_state is Failed:
        failed = [s["store_id"] for s in payload["stores"] if s["status"] != "completed"]
        message = f"stores failed: {', '.join(failed)}; {message}"
    elif final_state is _nothing_ran:
        message = f"{reports.skipped_text(payload['skipped'])}; report {path}"
    get_run_logger().info(message)
    return final_state(message=message, data=payload)


if __name__ == "__main__":
    state = asyncio.run(run_stores(stores=sys.argv[1:] or None, return_state=True))
    print(state.message)
    raise SystemExit(0 if state.is_completed() else 1)
