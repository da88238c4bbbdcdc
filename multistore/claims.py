"""Claims: which occurrence was started, once, however many ticks race (a table of its own).

One row per (store, occurrence key), the composite unique key. A tick claims a due occurrence with
`INSERT … ON CONFLICT DO NOTHING … RETURNING` (SQLite and PostgreSQL): the row comes back to
exactly one of the racers, which starts it. The row then records the store's flow run, its
attempts and its outcome:

    started ──► completed
       │  └───► failed      (attempts used up, or no retry fits before the occurrence ends)
       └──► retry ──► started (a later tick, after the backoff, while still due)
              └────► missed  (it stopped being due before an attempt completed)
    (never claimed while due) ──► missed
    started ──► stopped      (the window closed while it ran: no job started after the close)
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel, col

from multistore.db import get_engine
from multistore.models import UTCDateTime, utcnow

STARTED = "started"
COMPLETED = "completed"
FAILED = "failed"
RETRY = "retry"
MISSED = "missed"
STOPPED = "stopped"
FINAL = frozenset({COMPLETED, FAILED, MISSED, STOPPED})
_CHUNK = 500


class OccurrenceClaim(SQLModel, table=True):
    __tablename__ = "occurrence_claims"
    __table_args__ = (UniqueConstraint("store_id", "occurrence_key", name="uq_claim_occurrence"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    occurrence_key: str = Field(max_length=160)
    kind: str = Field(default="window", max_length=16)
    due_from: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    status: str = Field(default=STARTED, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claimed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, default=utcnow)
    )
    claimed_by: str | None = Field(default=None, max_length=64)  # the tick's flow run
    flow_run_id: str | None = Field(default=None, max_length=64)  # the store's flow run
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    error: str | None = Field(default=None, sa_column=Column(Text))


class SkipNotice(SQLModel, table=True):
    """A due occurrence that did not start, announced once per reason (the `skipped` event):
    a store waiting on the 5-minute tick is told of once, not at every tick."""

    __tablename__ = "skip_notices"
    __table_args__ = (
        UniqueConstraint("store_id", "occurrence_key", "reason", name="uq_skip_notice"),
    )

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    occurrence_key: str = Field(max_length=160)
    reason: str = Field(max_length=64)
    noticed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, default=utcnow)
    )


@dataclass(frozen=True)
class ClaimState:
    store_id: str
    key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    due_until: datetime
    flow_run_id: str | None


@dataclass(frozen=True)
class StartedClaim:
    store_id: str
    key: str
    flow_run_id: str | None
    due_until: datetime
    claimed_at: datetime


class Claims:
    """The claim table of the registry at `url` (default: the configured registry)."""

    def __init__(self, url: str | None = None) -> None:
        self.engine: Engine = get_engine(url)

    def _insert_new(self, table: Any, values: list[dict[str, Any]], keys: list[str]) -> set[tuple]:
        """`INSERT … ON CONFLICT (keys) DO NOTHING RETURNING keys`: the key tuples inserted now,
        so of racing callers exactly one gets each row back."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        inserted: set[tuple] = set()
        with self.engine.begin() as conn:
            # In chunks: SQLite and PostgreSQL cap the parameters of one statement.
            for first in range(0, len(values), _CHUNK):
                statement = (
                    dialect.insert(table)
                    .values(values[first : first + _CHUNK])
                    .on_conflict_do_nothing(index_elements=keys)
                    .returning(*(table.c[key] for key in keys))
                )
                inserted.update(tuple(row) for row in conn.execute(statement))
        return inserted

    def announce(self, notices: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Of the (store, occurrence key, reason) given, those never announced before (now
        recorded): a skip is told once per occurrence and reason however many ticks see it."""
        values = [
            {"store_id": s, "occurrence_key": k, "reason": r, "noticed_at": utcnow()}
            for s, k, r in dict.fromkeys(notices)
        ]
        if not values:
            return set()
        keys = ["store_id", "occurrence_key", "reason"]
        return self._insert_new(SkipNotice.__table__, values, keys)  # type: ignore[return-value]

    def claim(
        self, rows: Sequence[dict[str, Any]], *, status: str = STARTED
    ) -> set[tuple[str, str]]:
        """Insert rows {store_id, occurrence_key, kind, due_from, due_until, claimed_by, …};
        the (store, key) pairs this call won. A pair someone already holds is not returned."""
        if not rows:
            return set()
        now = utcnow()
        values = [
            {
                "status": status,
                "attempts": 1 if status == STARTED else 0,
                "claimed_at": now,
                "next_attempt_at": None,
                "flow_run_id": None,
                "finished_at": now if status in FINAL else None,
                "error": None,
                **row,
            }
            for row in rows
        ]
        keys = ["store_id", "occurrence_key"]
        return self._insert_new(OccurrenceClaim.__table__, values, keys)  # type: ignore[return-value]

    def states(self, *, ending_after: datetime) -> dict[tuple[str, str], ClaimState]:
        """Every claim whose occurrence is due until after `ending_after`, by (store, key)."""
        table = OccurrenceClaim.__table__
        query = select(
            table.c.store_id,
            table.c.occurrence_key,
            table.c.status,
            table.c.attempts,
            table.c.next_attempt_at,
            table.c.due_until,
            table.c.flow_run_id,
        ).where(table.c.due_until > ending_after)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        convert = UTCDateTime().process_result_value
        return {
            (r[0], r[1]): ClaimState(
                r[0], r[1], r[2], r[3], convert(r[4], None), convert(r[5], None), r[6]
            )
            for r in rows
        }

    def restart(
        self,
        store_id: str,
        key: str,
        attempts: int,
        claimed_by: str | None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Take a claim waiting for a retry (compare-and-set on its attempt count): True for
        the one racer that wins, which starts attempt `attempts + 1`. The last attempt's flow
        run is forgotten: until the new one is set, the claim is one whose run is not created
        yet (`multistore.ticking.settle` gives it time), not one whose run ended."""
        statement = (
            update(OccurrenceClaim)
            .where(
                col(OccurrenceClaim.store_id) == store_id,
                col(OccurrenceClaim.occurrence_key) == key,
                col(OccurrenceClaim.status) == RETRY,
                col(OccurrenceClaim.attempts) == attempts,
            )
            .values(
                status=STARTED,
                attempts=attempts + 1,
                claimed_by=claimed_by,
                claimed_at=now or utcnow(),
                flow_run_id=None,
                error=None,
            )
        )
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount == 1

    def set_flow_run(self, store_id: str, keys: Iterable[str], flow_run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(OccurrenceClaim)
                .where(
                    col(OccurrenceClaim.store_id) == store_id,
                    col(OccurrenceClaim.occurrence_key).in_(builtins.list(keys)),
                )
                .values(flow_run_id=flow_run_id)
            )

    def finish(
        self,
        store_id: str,
        keys: Iterable[str],
        *,
        status: str,
        error: str | None = None,
        now: datetime | None = None,
        max_attempts: int = 3,
        backoff: timedelta = timedelta(minutes=5),
    ) -> list[str]:
        """Record an attempt's end for the store's started claims `keys`.

        A failure becomes RETRY (next attempt after `backoff × 2^(attempts-1)`) while attempts
        remain and the retry fits before the occurrence ends; otherwise FAILED. Returns the final
        status of each key, in order.
        """
        now = now or utcnow()
        keys = builtins.list(keys)
        if not keys:
            return []
        table = OccurrenceClaim.__table__
        outcome = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(table.c.occurrence_key, table.c.attempts, table.c.due_until).where(
                    table.c.store_id == store_id,
                    table.c.occurrence_key.in_(keys),
                    table.c.status == STARTED,
                )
            ).all()
            convert = UTCDateTime().process_result_value
            for key, attempts, due_until in rows:
                final = status
                values: dict[str, Any] = {"error": error}
                if status == FAILED:
                    wait = backoff * 2 ** max(attempts - 1, 0)
                    if attempts < max_attempts and now + wait < convert(due_until, None):
                        final = RETRY
                        values["next_attempt_at"] = now + wait
                if final in FINAL:
                    values["finished_at"] = now
                values["status"] = final
                conn.execute(
                    update(OccurrenceClaim)
                    .where(
                        col(OccurrenceClaim.store_id) == store_id,
                        col(OccurrenceClaim.occurrence_key) == key,
                        col(OccurrenceClaim.status) == STARTED,
                    )
                    .values(**values)
                )
                outcome.append(final)
        return outcome

    def finish_flow_run(self, flow_run_id: str, **kwargs: Any) -> dict[str, list[str]]:
        """`finish` for every started claim of that store flow run: {store: [status…]}."""
        table = OccurrenceClaim.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.store_id, table.c.occurrence_key).where(
                    table.c.flow_run_id == flow_run_id, table.c.status == STARTED
                )
            ).all()
        by_store: dict[str, list[str]] = {}
        for store_id, key in rows:
            by_store.setdefault(store_id, []).append(key)
        return {store: self.finish(store, keys, **kwargs) for store, keys in by_store.items()}

    def started(self, *, except_stores: Iterable[str] = ()) -> list[StartedClaim]:
        """Claims still 'started', but for the stores in `except_stores` (those running now)."""
        table = OccurrenceClaim.__table__
        query = select(
            table.c.store_id,
            table.c.occurrence_key,
            table.c.flow_run_id,
            table.c.due_until,
            table.c.claimed_at,
        ).where(table.c.status == STARTED)
        skip = builtins.list(except_stores)
        if skip:
            query = query.where(table.c.store_id.not_in(skip))
        convert = UTCDateTime().process_result_value
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StartedClaim(r[0], r[1], r[2], convert(r[3], None), convert(r[4], None)) for r in rows
        ]

    def expire_retries(self, now: datetime) -> list[tuple[str, str]]:
        """Claims waiting for a retry whose occurrence ended: MISSED. The pairs just marked."""
        statement = (
            update(OccurrenceClaim)
            .where(
                and_(
                    col(OccurrenceClaim.status) == RETRY,
                    col(OccurrenceClaim.due_until) <= now,
                )
            )
            .values(status=MISSED, finished_at=now)
            .returning(OccurrenceClaim.store_id, OccurrenceClaim.occurrence_key)
        )
        with self.engine.begin() as conn:
            return [(r[0], r[1]) for r in conn.execute(statement)]

    def history(self, store_id: str | None = None, *, limit: int = 50) -> list[OccurrenceClaim]:
        from sqlmodel import Session
        from sqlmodel import select as model_select

        query = model_select(OccurrenceClaim).order_by(col(OccurrenceClaim.due_from).desc())
        if store_id is not None:
            query = query.where(col(OccurrenceClaim.store_id) == store_id)
        with Session(self.engine, expire_on_commit=False) as session:
            return builtins.list(session.exec(query.limit(limit)).all())

    def counts(self, *, since: datetime) -> dict[str, int]:
        """Claims by status among occurrences due since `since` (for `status`)."""
        from sqlalchemy import func

        table = OccurrenceClaim.__table__
        query = (
            select(table.c.status, func.count())
            .where(table.c.due_from >= since)
            .group_by(table.c.status)
        )
        with self.engine.connect() as conn:
            return {status: count for status, count in conn.execute(query).all()}
