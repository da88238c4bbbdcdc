"""A rate pool's pace, shared by every process and machine: each call reserves its instant.

Prefect's rate limit (a global concurrency limit with slot decay) is polled: a refused caller
sleeps the server's Retry-After and asks again, and slots that decay between two polls go
unused. Measured with bench/dnc_pool.py (4 worker processes, vendor 120/min, the pool at 1.2x the
vendor's rate to make up for it): 0.84-0.86 of the vendor's rate on a loaded machine, 0.93-0.99
on a quiet one, and the figure moves with the load and the number of waiters.

Here nobody polls. A row per pool holds its theoretical arrival time `tat` (the generic cell rate
algorithm: a token bucket kept as one number). A call reserves its instant with one
`UPDATE … RETURNING` and sleeps until then, so the calls go out at the pool's rate whenever
there is demand, at most `burst` at once and `per_minute` after, whichever process or machine
sends them (the row is in the registry database they all share).

Time is the caller's clock (injected). Machines keep NTP time: a skew of a few milliseconds
between two workers is jitter that the vendor's burst, kept above the pool's, absorbs.
"""

from __future__ import annotations

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from multistore.clock import SYSTEM_CLOCK, Clock
from multistore.db import get_engine


class RatePace(SQLModel, table=True):
    __tablename__ = "rate_paces"

    name: str = Field(primary_key=True, max_length=128)
    # Epoch seconds: when the pool is next free at its pace (in the past: it has credit).
    tat: float = Field(default=0.0)


class RatePacer:
    """Reserve instants of named rate pools in the registry database."""

    def __init__(self, url: str | None = None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.engine = get_engine(url)
        self.clock = clock
        self._rows: set[str] = set()

    def reserve(self, name: str, per_minute: float, burst: int) -> float:
        """Take the next instant of pool `name`; the seconds to wait for it (0: go now)."""
        if per_minute <= 0 or burst < 1:
            raise ValueError(f"rate pool {name}: needs per_minute > 0 and burst ≥ 1")
        interval = 60.0 / per_minute
        now = self.clock.now().timestamp()
        self._ensure_row(name)
        table = RatePace.__table__
        with self.engine.begin() as conn:
            tat = conn.execute(
                update(table)
                .where(table.c.name == name)
                .values(tat=case((table.c.tat > now, table.c.tat), else_=now) + interval)
                .returning(table.c.tat)
            ).scalar_one()
        # This call's instant: its place in the queue, less the credit a burst allows.
        return max(0.0, tat - interval - (burst - 1) * interval - now)

    def wait(self, name: str, per_minute: float, burst: int) -> None:
        """Return when pool `name` lets one more call go."""
        delay = self.reserve(name, per_minute, burst)
        if delay > 0:
            self.clock.sleep(delay)

    def _ensure_row(self, name: str) -> None:
        if name in self._rows:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as conn:
            conn.execute(
                dialect.insert(RatePace.__table__)
                .values(name=name, tat=0.0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        self._rows.add(name)
