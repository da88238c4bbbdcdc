"""The scheduler: every few minutes, start each store's due occurrences, once, by priority.

1. decide (multistore/ticking.py): sweep the runs whose lease expired (their rows closed as
   crashed, their occurrences retried while due), mark what was missed, find the due occurrences
   and claim them in the registry, HIGH before MEDIUM before LOW, within the global bound;
2. tell Prefect: each dead run's flow run is set Crashed; a claim whose run never ran the store
   (its worker could not start it, or no worker took it while it was due) is settled
   (`multistore.ticking.settle`: retried, or missed and its run cancelled); each missed
   occurrence is a `multistore.store.missed` event (automations alert on it), and each due
   occurrence that did not start (waiting, or quarantined) a `multistore.store.skipped` event,
   once per reason;
3. start: one run of `store-pipeline/default` per store claimed, in priority order, with an
   idempotency key derived from the claim (a tick retried by Prefect creates no second run); a
   start that fails puts its claims back to retry;
4. report: a markdown artifact and the state's message say what started, waited, was missed.

The tick does not wait for the store runs: each records its own outcome in its claims. But when
stores wait for a slot (`max_concurrent_stores` reached), the deployed tick stays for
`follow_seconds` (prefect.yaml: 240 of its 300) and runs steps 1-3 again as soon as a store's lease
is released (checked every FOLLOW_POLL_SECONDS), so a freed slot waits seconds, not a whole tick.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.context import FlowRunContext
from prefect.deployments import arun_deployment
from prefect.states import Cancelled, Completed, Crashed, State

from flows.events import emit_store_event
from multistore.claims import FAILED, MISSED, Claims
from multistore.leases import Leases
from multistore.registry import Registry, Store
from multistore.store_events import STORE_EVENT
from multistore.ticking import (
    SLOTS_BUSY,
    Start,
    TickResult,
    busy,
    settle,
    tick,
    unstarted,
)

STORE_DEPLOYMENT = "store-pipeline/default"
FOLLOW_POLL_SECONDS = 5.0
MISSED_EVENT = STORE_EVENT.format("missed")


@flow(name="tick")
async def tick_flow(
    max_concurrent_stores: int = 8,
    store_deployment: str | None = STORE_DEPLOYMENT,
    max_attempts: int = 3,
    backoff_seconds: float = 300.0,
    lookback_hours: float = 24.0,
    quarantine_threshold: int = 3,
    follow_seconds: float = 0.0,
) -> State:
    """Start every due occurrence once (see the module docstring for the steps).

    `max_concurrent_stores` bounds the stores running at once across ticks, parents and workers
    (stores holding a lease count); `max_attempts` and `backoff_seconds` (doubling) are the
    store-level retries while an occurrence is due; occurrences that ended within
    `lookback_hours` unclaimed are reported missed. `store_deployment=None` runs the stores as
    subflows of the tick, in this process. With stores left waiting for a slot, the tick stays
    up to `follow_seconds` and starts the next one as soon as a store's lease is released.
    """
    logger = get_run_logger()
    context = FlowRunContext.get()
    tick_id = str(context.flow_run.id) if context and context.flow_run else None
    now = datetime.now(UTC)
    options = {
        "max_concurrent_stores": max_concurrent_stores,
        "max_attempts": max_attempts,
        "backoff": timedelta(seconds=backoff_seconds),
        "lookback": timedelta(hours=lookback_hours),
    }
    total = TickResult()
    started: list[tuple[Start, str]] = []
    follow_until = time.monotonic() + follow_seconds
    while True:
        result = await _pass(tick_id, options, store_deployment, quarantine_threshold, started)
        total.crashed += result.crashed
        total.missed += result.missed
        total.waiting = result.waiting
        if not _waiting_for_a_slot(result) or time.monotonic() >= follow_until:
            break
        if not await _slot_freed(max_concurrent_stores, follow_until):
            break
    message = (
        f"{len(started)} started, {len(total.waiting)} waiting, {len(total.missed)} missed, "
        f"{len(total.crashed)} dead runs closed"
    )
    await acreate_markdown_artifact(
        _markdown(now, total, started), key="tick", description="What this tick did"
    )
    logger.info(message)
    return Completed(message=message, data=_summary(total, started))


async def _pass(
    tick_id: str | None,
    options: dict[str, Any],
    deployment: str | None,
    threshold: int,
    started: list[tuple[Start, str]],
) -> TickResult:
    """Decide, tell Prefect, start (steps 1-3 of the module docstring); appends to `started`."""
    logger = get_run_logger()
    now = datetime.now(UTC)
    # Settled first, so that a run that never started is retried by this very pass.
    missed = await _settle_unstarted(now, options["max_attempts"], options["backoff"])
    result, stores = await asyncio.to_thread(_decide, now, tick_id, **options)
    result.missed += missed
    await _mark_crashed(result)
    for store_id, key in result.missed:
        logger.warning("store %s: occurrence %s missed (not completed while due)", store_id, key)
        if store_id in stores:
            emit_store_event("missed", stores[store_id], {"occurrence": key})
    for skip in result.skipped:  # once per occurrence and reason, not at every tick
        emit_store_event(
            "skipped",
            stores[skip.occurrence.store_id],
            {"occurrence": skip.occurrence.key, "detail": skip.reason},
            **{"multistore.reason": skip.kind},
        )
    for start in result.started:
        flow_run_id = await _start(start, deployment, threshold)
        if flow_run_id is not None:
            started.append((start, flow_run_id))
    return result


def _waiting_for_a_slot(result: TickResult) -> bool:
    return any(w.kind == SLOTS_BUSY for w in result.waiting)


async def _slot_freed(max_concurrent_stores: int, until: float) -> bool:
    """Watch the stores taking slots (two small queries every FOLLOW_POLL_SECONDS) until fewer
    than the bound do; False when `until` (a monotonic instant) comes first."""
    claims, leases = Claims(), Leases()
    while time.monotonic() < until:
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
        taken = await asyncio.to_thread(busy, claims, leases, datetime.now(UTC))
        if taken < max_concurrent_stores:
            return True
    return False


def _decide(
    now: datetime, tick_id: str | None, **options: Any
) -> tuple[TickResult, dict[str, Store]]:
    stores = Registry().list()
    result = tick(stores, now, claims=Claims(), leases=Leases(), claimed_by=tick_id, **options)
    return result, {store.id: store for store in stores}


async def _start(start: Start, deployment: str | None, threshold: int) -> str | None:
    """Create the store's run; on failure its claims go back to retry (one line logged)."""
    logger = get_run_logger()
    parameters: dict[str, Any] = {
        "store_id": start.store.id,
        "occurrences": start.keys,
        "quarantine_threshold": threshold,
    }
    if start.jobs is not None:
        parameters["jobs"] = start.jobs
    if start.stop_at is not None:
        parameters["stop_at"] = start.stop_at.isoformat()
    name = f"{start.store.id} attempt {start.attempt}"  # kept by flows.run_names
    try:
        if deployment is None:
            from flows.store_pipeline import store_pipeline

            state = await store_pipeline.with_options(flow_run_name=name)(
                **parameters, return_state=True
            )
            return str(state.state_details.flow_run_id)
        flow_run = await arun_deployment(
            deployment,
            parameters=parameters,
            flow_run_name=name,
            timeout=0,
            as_subflow=False,
            tags=["multistore", f"store:{start.store.id}", "tick"],
            idempotency_key=start.idempotency_key,
        )
    except Exception as exc:
        error = f"store {start.store.id}: could not start: {type(exc).__name__}: {exc}"
        logger.warning(error)
        await asyncio.to_thread(
            Claims().finish, start.store.id, start.keys, status=FAILED, error=error
        )
        return None
    await asyncio.to_thread(Claims().set_flow_run, start.store.id, start.keys, str(flow_run.id))
    logger.info(
        "store %s (%s): started %s as flow run %s",
        start.store.id,
        start.priority.value,
        ", ".join(start.keys),
        flow_run.id,
    )
    return str(flow_run.id)


async def _mark_crashed(result: TickResult) -> None:
    """Dead store runs stay RUNNING in Prefect (nobody is left to say otherwise): say it."""
    if not result.crashed:
        return
    async with get_client() as client:
        for dead in result.crashed:
            try:
                await client.set_flow_run_state(
                    UUID(dead.holder),
                    Crashed(message=f"store {dead.store_id}: lease expired (process died)"),
                    force=True,
                )
            except Exception as exc:  # a local run's token, or a run already gone
                get_run_logger().info("flow run %s not marked crashed: %s", dead.holder, exc)


async def _settle_unstarted(
    now: datetime, max_attempts: int, backoff: timedelta
) -> list[tuple[str, str]]:
    """Claims whose run never ran the store (multistore.ticking.settle), given their runs'
    states on the server; a run that can no longer serve its occurrence is cancelled before it
    starts late. The (store, occurrence) pairs this made missed."""
    pending = await asyncio.to_thread(unstarted, Claims(), Leases(), now)
    ids = sorted({c.flow_run_id for c in pending if c.flow_run_id})
    states: dict[str, str] = {}
    async with get_client() as client:
        for chunk in range(0, len(ids), 200):  # the API's page size
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[UUID(i) for i in ids[chunk : chunk + 200]])
                ),
                limit=200,
            )
            states.update({str(r.id): r.state.type.value for r in runs if r.state is not None})
    settled = await asyncio.to_thread(
        settle, Claims(), pending, states, now, max_attempts=max_attempts, backoff=backoff
    )
    logger = get_run_logger()
    for done in settled:
        logger.warning(
            "store %s: occurrence %s %s: %s", done.store_id, done.key, done.status, done.why
        )
        if done.cancel and done.flow_run_id:
            async with get_client() as client:
                await client.set_flow_run_state(
                    UUID(done.flow_run_id),
                    Cancelled(message=f"store {done.store_id}: {done.why}"),
                    force=True,
                )
    return [(d.store_id, d.key) for d in settled if d.status == MISSED]


def _summary(result: TickResult, started: list[tuple[Start, str]]) -> dict[str, Any]:
    return {
        "started": [
            {
                "store_id": s.store.id,
                "priority": s.priority.value,
                "occurrences": s.keys,
                "attempt": s.attempt,
                "flow_run_id": run_id,
            }
            for s, run_id in started
        ],
        "waiting": [
            {"store_id": w.occurrence.store_id, "occurrence": w.occurrence.key, "reason": w.reason}
            for w in result.waiting
        ],
        "missed": [{"store_id": s, "occurrence": k} for s, k in result.missed],
        "crashed": [{"store_id": c.store_id, "flow_run_id": c.holder} for c in result.crashed],
    }


def _markdown(now: datetime, result: TickResult, started: list[tuple[Start, str]]) -> str:
    lines = [f"# Tick at {now.isoformat(timespec='seconds')}", ""]
    lines += [
        f"- started {s.store.id} ({s.priority.value}): {', '.join(s.keys)}" for s, _ in started
    ]
    lines += [
        f"- waiting {w.occurrence.store_id} {w.occurrence.key}: {w.reason}" for w in result.waiting
    ]
    lines += [f"- **missed** {s} {k}" for s, k in result.missed]
    lines += [f"- dead run closed: {c.store_id} (flow run {c.holder})" for c in result.crashed]
    return "\n".join(lines) + "\n"
