"""Store leases: a store runs at most once at a time, whoever starts it (a table of its own).

A store pipeline takes its store's lease before anything else (`acquire`), renews it every
`renew_seconds` (a third of the lease) while it runs, and drops it at the end. A lease not renewed
for its time to live (`MULTISTORE_STORE_LEASE_SECONDS`, default `TTL_SECONDS`) has expired: its
holder is dead (a worker killed with -9 cannot run its cleanup). The bound, by default:

    a dead run is known dead at most TTL_SECONDS (90 s) after its last renewal, so within
    TTL_SECONDS + RENEW_SECONDS (2 minutes) of its death.

The holder writes the expiry, so the time to live is the holder's setting: a test (or the soak
benchmark) that kills a run gives its workers a short one and sees the lease lapse in seconds.

From then on anyone may take the lease over (`acquire` does, and closes the dead run's row as
crashed); the tick sweeps expired leases every time it runs (`close_expired`) and
`multistore reset-stuck` does the same by hand. A second start while the lease is live is refused
with `Held.line()`: "store X is already running since … in flow run …".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col

from multistore.db import get_engine
from multistore.models import StoreRun, UTCDateTime, utcnow
from multistore.settings import get_settings

TTL_SECONDS = 90.0
RENEW_SECONDS = 30.0
CRASHED = "crashed"


class StoreLease(SQLModel, table=True):
    __tablename__ = "store_leases"

    store_id: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)  # the store's flow run id (or a local run's token)
    run_row_id: int | None = Field(default=None)  # its store_runs row
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    renewed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


@dataclass(frozen=True)
class Held:
    """A live lease someone else holds: why a start was refused."""

    store_id: str
    holder: str
    since: datetime

    def line(self) -> str:
        return (
            f"store {self.store_id} is already running since "
            f"{self.since.isoformat(timespec='seconds')} in flow run {self.holder}"
        )


@dataclass(frozen=True)
class Closed:
    """A dead holder's lease, taken away: its store_runs row was closed as crashed."""

    store_id: str
    holder: str
    since: datetime
    expired_at: datetime
    run_row_id: int | None


class Leases:
    def __init__(self, url: str | None = None, *, ttl: float | None = None) -> None:
        self.engine = get_engine(url)
        self.ttl = ttl or get_settings().store_lease_seconds

    @property
    def renew_seconds(self) -> float:
        """How often a holder renews: three renewals fit in the lease, so one lost to a database
        hiccup costs nothing."""
        return self.ttl * RENEW_SECONDS / TTL_SECONDS

    def acquire(
        self, store_id: str, holder: str, *, now: datetime | None = None, ttl: float | None = None
    ) -> Held | Closed | None:
        """Take the store's lease for `holder`. None: taken. Held: someone live has it (not
        taken). Closed: a dead holder's expired lease was taken over (and its row closed)."""
        now = now or utcnow()
        ttl = ttl or self.ttl
        expires = now + timedelta(seconds=ttl)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = (
            dialect.insert(StoreLease.__table__)
            .values(store_id=store_id, holder=holder, since=now, renewed_at=now, expires_at=expires)
            .on_conflict_do_nothing(index_elements=["store_id"])
        )
        with self.engine.begin() as conn:
            if conn.execute(insert).rowcount == 1:
                return None
            current = conn.execute(
                select(StoreLease.__table__).where(StoreLease.__table__.c.store_id == store_id)
            ).first()
        if current is None:  # released between the two statements: try once more
            return self.acquire(store_id, holder, now=now, ttl=ttl)
        if current.holder == holder:
            self.renew(store_id, holder, now=now, ttl=ttl)
            return None
        if current.expires_at > now:
            return Held(store_id, current.holder, current.since)
        # Expired: take it over only if it is still the same dead lease (compare-and-set).
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(StoreLease)
                .where(
                    col(StoreLease.store_id) == store_id,
                    col(StoreLease.holder) == current.holder,
                    col(StoreLease.expires_at) <= now,
                )
                .values(
                    holder=holder, run_row_id=None, since=now, renewed_at=now, expires_at=expires
                )
            ).rowcount
            if taken != 1:
                return self.acquire(store_id, holder, now=now, ttl=ttl)
            _close_row(conn, current.run_row_id, current.expires_at, now)
        return Closed(
            store_id, current.holder, current.since, current.expires_at, current.run_row_id
        )

    def attach_run(self, store_id: str, holder: str, run_row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(StoreLease)
                .where(col(StoreLease.store_id) == store_id, col(StoreLease.holder) == holder)
                .values(run_row_id=run_row_id)
            )

    def renew(
        self, store_id: str, holder: str, *, now: datetime | None = None, ttl: float | None = None
    ) -> bool:
        """Push the expiry on; False when the lease is no longer ours (taken over)."""
        now = now or utcnow()
        ttl = ttl or self.ttl
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    update(StoreLease)
                    .where(col(StoreLease.store_id) == store_id, col(StoreLease.holder) == holder)
                    .values(renewed_at=now, expires_at=now + timedelta(seconds=ttl))
                ).rowcount
                == 1
            )

    def release(self, store_id: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(StoreLease).where(
                    col(StoreLease.store_id) == store_id, col(StoreLease.holder) == holder
                )
            )

    def live(self, *, now: datetime | None = None) -> dict[str, Held]:
        now = now or utcnow()
        table = StoreLease.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.expires_at > now)).all()
        return {r.store_id: Held(r.store_id, r.holder, r.since) for r in rows}

    def held(self, store_id: str, *, now: datetime | None = None) -> Held | None:
        now = now or utcnow()
        table = StoreLease.__table__
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.store_id == store_id, table.c.expires_at > now)
            ).first()
        return None if row is None else Held(row.store_id, row.holder, row.since)

    def close_expired(self, *, now: datetime | None = None) -> list[Closed]:
        """Remove every expired lease and close its run's row as crashed; what was closed."""
        now = now or utcnow()
        table = StoreLease.__table__
        closed = []
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.expires_at <= now)).all()
        for row in rows:
            with self.engine.begin() as conn:
                gone = conn.execute(
                    delete(StoreLease).where(
                        col(StoreLease.store_id) == row.store_id,
                        col(StoreLease.holder) == row.holder,
                        col(StoreLease.expires_at) <= now,
                    )
                ).rowcount
                if gone != 1:
                    continue  # renewed or taken over meanwhile
                _close_row(conn, row.run_row_id, row.expires_at, now)
            closed.append(
                Closed(row.store_id, row.holder, row.since, row.expires_at, row.run_row_id)
            )
        return closed

    def close_orphan_runs(self, *, now: datetime | None = None) -> list[int]:
        """store_runs rows still "running" whose store holds no live lease (a run killed before
        leases existed, or whose lease is gone): closed as crashed. Their ids."""
        now = now or utcnow()
        live = set(self.live(now=now))
        runs = StoreRun.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.id, runs.c.store_id).where(runs.c.status == "running")
            ).all()
        orphans = [run_id for run_id, store_id in rows if store_id not in live]
        with self.engine.begin() as conn:
            for run_id in orphans:
                _close_row(conn, run_id, None, now)
        return orphans


def _close_row(conn, run_row_id: int | None, expired_at: datetime | None, now: datetime) -> None:  # type: ignore[no-untyped-def]
    if run_row_id is None:
        return
    why = (
        f"crashed: its lease expired at {expired_at.isoformat(timespec='seconds')} "
        "(the run stopped renewing it: its process died)"
        if expired_at is not None
        else "crashed: still 'running' with no live lease (closed by reset-stuck)"
    )
    conn.execute(
        update(StoreRun)
        .where(col(StoreRun.id) == run_row_id, col(StoreRun.status) == "running")
        .values(status=CRASHED, finished_at=now, error=why)
    )
