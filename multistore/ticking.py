"""One tick of the scheduler, Prefect-free: what to start now, what was missed, what died.

Every tick (flows/tick.py, every 5 minutes by default):

1. sweep: leases whose holder stopped renewing are removed, their store_runs rows closed as
   crashed, and their claims set to retry (or failed) like any failed attempt;
2. claims waiting for a retry whose occurrence ended become **missed**, and so does every
   occurrence that ended within `lookback` without ever being claimed (if it was due after the
   store's `scheduled_since`: a store added today owes nothing for yesterday);
3. due: each enabled, unquarantined store's occurrences due now that are unclaimed, or waiting
   for a retry whose backoff has passed;
4. order: HIGH → MEDIUM → LOW, then the earliest due first, then the store id;
5. bound: a store holding a live lease waits (it is running); at most `max_concurrent_stores`
   stores run at once, counting those already running (and those whose run was created but
   has not taken its lease yet: `busy`), so the rest wait for a later tick in the same order;
   each due occurrence that does not start (waiting, or its store quarantined) is announced as
   skipped once per reason, however many ticks it waits;
6. claim: one `INSERT … ON CONFLICT DO NOTHING RETURNING` for every new occurrence of the stores
   chosen, and a compare-and-set per retry; a store's occurrences won start together as one run
   (the store's jobs for a window or a day, the union of the tasks' jobs otherwise).

A racing tick (overlap, Prefect retry, two workers) wins nothing the first one won, so nothing
starts twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from multistore.claims import MISSED, RETRY, Claims, StartedClaim
from multistore.config import Priority
from multistore.jobgraph import DEFAULT_JOBS
from multistore.leases import Closed, Held, Leases
from multistore.models import Store
from multistore.occurrences import TASK, Occurrence, occurrences

DEFAULT_LOOKBACK = timedelta(days=1)
_TINY = timedelta(microseconds=1)


@dataclass
class Start:
    """One store run to start: the occurrences it covers, its attempt and its jobs."""

    store: Store
    occurrences: list[Occurrence]
    attempt: int
    jobs: list[str] | None  # None: the store's own jobs

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.occurrences]

    @property
    def priority(self) -> Priority:
        return Priority.parse(self.store.priority)

    @property
    def stop_at(self) -> datetime | None:
        """A window occurrence: no job starts after its window closes."""
        ends = [o.due_until for o in self.occurrences if o.kind != TASK]
        return min(ends) if ends else None

    @property
    def idempotency_key(self) -> str:
        digest = hashlib.sha256("|".join(sorted(self.keys)).encode()).hexdigest()[:16]
        return f"claim:{self.store.id}:{digest}:{self.attempt}"


# Why a due occurrence did not start (the `multistore.reason` of its skipped event).
ALREADY_RUNNING, SLOTS_BUSY, QUARANTINED = "already running", "store slots busy", "quarantined"


@dataclass
class Waiting:
    occurrence: Occurrence
    reason: str  # the line for people
    kind: str = SLOTS_BUSY  # one of the reasons above


@dataclass
class TickResult:
    started: list[Start] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)
    crashed: list[Closed] = field(default_factory=list)
    # Due occurrences not started whose (occurrence, reason) no tick had announced: the skipped
    # events to emit now (a store waiting through ten ticks is one event, not ten).
    skipped: list[Waiting] = field(default_factory=list)


def tick(
    stores: Iterable[Store],
    now: datetime,
    *,
    claims: Claims,
    leases: Leases,
    claimed_by: str | None = None,
    max_concurrent_stores: int | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_attempts: int = 3,
    backoff: timedelta = timedelta(minutes=5),
) -> TickResult:
    """Decide and claim (the caller starts `result.started`, in order)."""
    result = TickResult()
    result.crashed = sweep(claims, leases, now, max_attempts=max_attempts, backoff=backoff)
    result.missed.extend(claims.expire_retries(now))

    states = claims.states(ending_after=now - lookback)
    ended: list[Occurrence] = []
    due: dict[str, list[tuple[Occurrence, int]]] = {}  # store → (occurrence, attempts so far)
    by_id: dict[str, Store] = {}
    quarantined: list[Waiting] = []
    for store in stores:
        if store.enabled and store.quarantined_at is not None:
            quarantined += [
                Waiting(
                    o, f"store {store.id} is quarantined: {store.quarantine_reason}", QUARANTINED
                )
                for o in occurrences(store, now - lookback, now + _TINY)
                if o.due_at(now)
            ]
        if not store.enabled or store.quarantined_at is not None:
            continue
        by_id[store.id] = store
        for occ in occurrences(store, now - lookback, now + _TINY):
            state = states.get((store.id, occ.key))
            if occ.due_until <= now:
                if state is None and occ.due_from >= _since(store):
                    ended.append(occ)
            elif occ.due_at(now):
                if state is None:
                    due.setdefault(store.id, []).append((occ, 0))
                elif (
                    state.status == RETRY
                    and state.next_attempt_at is not None
                    and state.next_attempt_at <= now
                ):
                    due.setdefault(store.id, []).append((occ, state.attempts))
    if ended:
        result.missed.extend(
            claims.claim([_claim_row(o, claimed_by, now) for o in ended], status=MISSED)
        )

    order = sorted(
        due,
        key=lambda sid: (
            Priority.parse(by_id[sid].priority).rank,
            min(o.due_from for o, _ in due[sid]),
            sid,
        ),
    )
    running = leases.live(now=now)
    free = None
    if max_concurrent_stores is not None:
        free = max_concurrent_stores - busy(claims, leases, now, running=running)
    chosen: list[str] = []
    for store_id in order:
        pending = due[store_id]
        if store_id in running:
            reason = running[store_id].line()
            result.waiting.extend(Waiting(o, reason, ALREADY_RUNNING) for o, _ in pending)
        elif free is not None and len(chosen) >= free:
            reason = f"all {max_concurrent_stores} store slots busy; a later tick starts it"
            result.waiting.extend(Waiting(o, reason, SLOTS_BUSY) for o, _ in pending)
        else:
            chosen.append(store_id)
    # One INSERT … ON CONFLICT DO NOTHING RETURNING for every new occurrence of the chosen stores.
    fresh = [o for sid in chosen for o, attempts in due[sid] if attempts == 0]
    won = claims.claim([_claim_row(o, claimed_by, now) for o in fresh])
    for store_id in chosen:
        start = _start(by_id[store_id], due[store_id], won, claims, claimed_by, now)
        if start is not None:
            result.started.append(start)
    not_started = result.waiting + quarantined
    told = claims.announce((w.occurrence.store_id, w.occurrence.key, w.kind) for w in not_started)
    result.skipped = [
        w for w in not_started if (w.occurrence.store_id, w.occurrence.key, w.kind) in told
    ]
    return result


def busy(
    claims: Claims, leases: Leases, now: datetime, *, running: dict[str, Held] | None = None
) -> int:
    """Stores taking a slot of the bound: those holding a live lease, and those whose run was
    created but has not taken its lease yet (a claim still 'started'), or a tick would start
    past the bound before they take one."""
    running = leases.live(now=now) if running is None else running
    return len(running) + len({c.store_id for c in claims.started(except_stores=running)})


def sweep(
    claims: Claims,
    leases: Leases,
    now: datetime,
    *,
    max_attempts: int = 3,
    backoff: timedelta = timedelta(minutes=5),
) -> list[Closed]:
    """Close every expired lease (its run row crashed) and fail its claims' attempt (a retry
    while due). Whoever notices a death first (a tick, a waiting parent, reset-stuck) calls this,
    so no dead run's claims are left 'started'."""
    closed = leases.close_expired(now=now)
    for dead in closed:
        claims.finish_flow_run(
            dead.holder,
            status="failed",
            error=f"store {dead.store_id}: its run died (lease expired)",
            now=now,
            max_attempts=max_attempts,
            backoff=backoff,
        )
    return closed


# A claim the tick made but whose run it never created (the tick died in between) is given up
# after this long: a tick's start takes seconds.
NEVER_CREATED_AFTER = timedelta(minutes=10)
_ENDED = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
_NOT_STARTED = frozenset({"SCHEDULED", "PENDING"})


@dataclass
class Settled:
    """A started claim whose run never ran the store, and what became of it."""

    store_id: str
    key: str
    flow_run_id: str | None
    status: str  # retry, failed or missed
    why: str
    cancel: bool  # its flow run has not started and must not start late


def unstarted(claims: Claims, leases: Leases, now: datetime) -> list[StartedClaim]:
    """Claims still 'started' whose store holds no live lease: their run has not taken it yet,
    or never will. A run that took its lease and died is the sweep's (`sweep`)."""
    return claims.started(except_stores=leases.live(now=now))


def settle(
    claims: Claims,
    pending: list[StartedClaim],
    run_states: dict[str, str],
    now: datetime,
    *,
    max_attempts: int = 3,
    backoff: timedelta = timedelta(minutes=5),
) -> list[Settled]:
    """Close the claims of `pending` (see `unstarted`) whose run will never run the store, given
    `run_states` (flow run id → its orchestrator state type, missing when the run is gone):

    - a run that ended (completed, failed, crashed, cancelled) without taking the store's lease,
      e.g. one its worker could not start: a failed attempt, retried while due;
    - a run still waiting for a worker (scheduled, pending, late) when its occurrence stopped
      being due: missed, and the run is to be cancelled;
    - a claim whose run was never created (`NEVER_CREATED_AFTER`) or is gone: a failed attempt.

    A run that is running is left alone: it takes its lease first thing."""
    settled = []
    for claim in pending:
        store, run = claim.store_id, claim.flow_run_id
        state = run_states.get(run) if run else None
        cancel = False
        if run is None:
            if claim.claimed_at > now - NEVER_CREATED_AFTER:
                continue
            status, why = "failed", "its run was never created"
        elif state is None:
            status, why = "failed", f"its flow run {run} is gone"
        elif state in _ENDED:
            status, why = "failed", f"its flow run {run} ended {state} before running the store"
        elif state in _NOT_STARTED and claim.due_until <= now:
            status, why = MISSED, f"its flow run {run} was still {state} when it stopped being due"
            cancel = True
        else:
            continue
        (final,) = claims.finish(
            store,
            [claim.key],
            status=status,
            error=f"store {store}: {why}",
            now=now,
            max_attempts=max_attempts,
            backoff=backoff,
        ) or [None]
        if final is not None:
            settled.append(Settled(store, claim.key, run, final, why, cancel))
    return settled


def _since(store: Store) -> datetime:
    return store.scheduled_since or datetime.min.replace(tzinfo=UTC)


def _claim_row(occ: Occurrence, claimed_by: str | None, now: datetime) -> dict:
    return {
        "store_id": occ.store_id,
        "occurrence_key": occ.key,
        "kind": occ.kind,
        "due_from": occ.due_from,
        "due_until": occ.due_until,
        "claimed_by": claimed_by,
        "claimed_at": now,
    }


def _start(
    store: Store,
    pending: list[tuple[Occurrence, int]],
    won: set[tuple[str, str]],
    claims: Claims,
    claimed_by: str | None,
    now: datetime,
) -> Start | None:
    """The store's run: its new occurrences this tick won, and its retries it wins now."""
    taken = [o for o, attempts in pending if attempts == 0 and (store.id, o.key) in won]
    attempt = 1
    for occ, attempts in pending:
        if attempts and claims.restart(store.id, occ.key, attempts, claimed_by, now=now):
            taken.append(occ)
            attempt = max(attempt, attempts + 1)
    if not taken:
        return None
    return Start(store, taken, attempt, _jobs(store, taken))


def _jobs(store: Store, won: list[Occurrence]) -> list[str] | None:
    if any(o.kind != TASK for o in won):
        return None
    wanted = {job for o in won for job in (o.jobs or ())}
    return [job for job in DEFAULT_JOBS if job in wanted]
