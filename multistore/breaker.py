"""Circuit breakers, one per outside service, shared by every store and every worker process.

The rule: after `threshold` consecutive failed calls the circuit opens; for `cooldown_seconds`
every call fails at once with "circuit open for <service> until <time>" (no request, no retry
waited); then exactly one caller wins the probe and its outcome closes or re-opens the circuit.

The state is a row in the registry database, so all processes and machines see one breaker. Every
transition is a single conditional UPDATE, so two callers can never both win the probe or both
open the circuit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import case, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel, select

from multistore import datafiles, store_events
from multistore.db import get_engine, session_scope
from multistore.retry import Kind, ServiceError

BREAKERS_FILE = "breakers.yaml"

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpenError(ServiceError):
    """A call refused without being made: the service's circuit is open. One line: the store
    (when known), the circuit and the first line of the failure that opened it."""

    def __init__(
        self,
        service: str,
        until: datetime,
        *,
        probing: bool = False,
        store: str | None = None,
        last_error: str | None = None,
    ) -> None:
        self.until = until
        self.probing = probing
        self.last_error = last_error
        detail = " (a probe call is deciding)" if probing else ""
        who = f"{service} for store {store}: " if store else ""
        last = (last_error or "").strip().splitlines()
        cause = f"; last error: {last[0]}" if store and last else ""
        super().__init__(
            f"{who}circuit open for {service} until {until.isoformat(timespec='seconds')}"
            f"{detail}{cause}",
            service=service,
            kind=Kind.OUTAGE,
            store=store,
        )

    def for_store(self, store: str) -> CircuitOpenError:
        """The same refusal, naming the store it refused."""
        return CircuitOpenError(
            self.service,
            self.until,
            probing=self.probing,
            store=store,
            last_error=self.last_error,
        )


class BreakerPolicy(BaseModel):
    threshold: int = Field(default=5, ge=1)
    cooldown_seconds: float = Field(default=60.0, gt=0)


class BreakerRow(SQLModel, table=True):
    __tablename__ = "circuit_breakers"

    service: str = SQLField(primary_key=True, max_length=64)
    state: str = CLOSED
    failures: int = 0
    # Aware UTC throughout (sqlmodel refuses naive values), so conditional UPDATEs compare alike.
    opened_until: datetime | None = None
    probe_started_at: datetime | None = None
    last_error: str | None = None
    times_opened: int = 0


@dataclass(frozen=True)
class BreakerStatus:
    service: str
    state: str
    failures: int
    opened_until: datetime | None
    last_error: str | None
    times_opened: int


def load_policies(path: Path | None = None) -> dict[str, BreakerPolicy]:
    """Policies by service, with "default" for the rest.

    Looked up in `$MULTISTORE_DATA_DIR/breakers.yaml`, then multistore/defaults/breakers.yaml.
    """
    path = datafiles.find(BREAKERS_FILE, path)
    # Each client's breaker asks once; parse a file again only when it changed.
    stamp = path.stat().st_mtime_ns if path.exists() else None
    return dict(_parse_policies(path, stamp))


@lru_cache(maxsize=16)
def _parse_policies(path: Path, stamp: int | None) -> tuple[tuple[str, BreakerPolicy], ...]:
    raw = datafiles.read(path) if stamp is not None else {}
    policies: dict[str, BreakerPolicy] = {"default": BreakerPolicy()}
    for service, body in (raw.get("breakers") or {}).items():
        try:
            policies[service] = BreakerPolicy(**(body or {}))
        except (ValidationError, TypeError) as exc:
            reason = datafiles.first_error(exc)
            raise ValueError(f"{path}: breaker {service!r}: {reason}") from None
    return tuple(policies.items())


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CircuitBreaker:
    """The breaker of one service; its policy read once, at creation, all state in the database.

    A call while closed costs one SQL statement (the row read by `before_call`); a failure one
    more (one conditional UPDATE that counts it and opens the circuit at the threshold).
    """

    def __init__(
        self,
        service: str,
        *,
        policy: BreakerPolicy | None = None,
        url: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        policies = load_policies() if policy is None else {}
        self.service = service
        self.policy = policy or policies.get(service, policies["default"])
        self.url = url
        self._clock = clock
        # Failures counted when `before_call` last read the row: a success resets only those.
        self._failures_seen = 0

    # -- the three moments of a call ---------------------------------------------------------
    def before_call(self) -> bool:
        """Allow a call or raise CircuitOpenError. True when this caller is the probe."""
        row = self._row()
        now = self._clock()
        self._failures_seen = row.failures
        if row.state == CLOSED:
            return False
        if row.state == OPEN:
            if row.opened_until is not None and now < row.opened_until:
                raise CircuitOpenError(self.service, row.opened_until, last_error=row.last_error)
            won = self._transition(
                {"state": HALF_OPEN, "probe_started_at": now},
                state=OPEN,
                extra=BreakerRow.opened_until == row.opened_until,
            )
        else:
            # A probe that never reported (its process died) is taken over after a cool-down.
            stale = row.probe_started_at is None or now >= row.probe_started_at + timedelta(
                seconds=self.policy.cooldown_seconds
            )
            won = stale and self._transition(
                {"probe_started_at": now},
                state=HALF_OPEN,
                extra=BreakerRow.probe_started_at == row.probe_started_at,
            )
        if not won:
            raise CircuitOpenError(
                self.service, row.opened_until or now, probing=True, last_error=row.last_error
            )
        return True

    def record_success(self, *, probe: bool = False) -> None:
        if probe:
            closed = self._transition(
                {"state": CLOSED, "failures": 0, "probe_started_at": None}, state=HALF_OPEN
            )
            if closed:
                _announce(store_events.circuit_event(self.service, opened=False))
        elif self._failures_seen:
            self._transition({"failures": 0}, state=CLOSED)
            self._failures_seen = 0

    def record_failure(self, error: str, *, probe: bool = False) -> bool:
        """Count a failed call; True when this failure opened the circuit."""
        now = self._clock()
        until = now + timedelta(seconds=self.policy.cooldown_seconds)
        error = error[:500]
        opening = {
            "state": OPEN,
            "opened_until": until,
            "probe_started_at": None,
            "last_error": error,
            "times_opened": BreakerRow.times_opened + 1,
        }
        if probe:
            opened = self._transition(opening, state=HALF_OPEN)
        else:
            opened = self._count_failure(error, until)
        if opened:
            payload = {
                "error": error,
                "until": until.isoformat(),
                "cooldown_seconds": self.policy.cooldown_seconds,
            }
            _announce(store_events.circuit_event(self.service, opened=True, payload=payload))
        return opened

    def _count_failure(self, error: str, until: datetime) -> bool:
        """One statement counts the failure and, at the threshold, opens the circuit: only the
        failure that crosses it finds the row closed, so exactly one caller opens it."""
        opens = BreakerRow.failures + 1 >= self.policy.threshold
        statement = (
            update(BreakerRow)
            .where(BreakerRow.service == self.service, BreakerRow.state == CLOSED)
            .values(
                failures=BreakerRow.failures + 1,
                last_error=error,
                state=case((opens, OPEN), else_=CLOSED),
                opened_until=case((opens, until), else_=BreakerRow.opened_until),
                times_opened=case(
                    (opens, BreakerRow.times_opened + 1), else_=BreakerRow.times_opened
                ),
            )
            .returning(BreakerRow.state)
        )
        with get_engine(self.url).begin() as connection:
            state = connection.execute(statement).scalar_one_or_none()
        if state is None:  # the row is missing (never called) or not closed: nothing counted
            return self._ensure_row() and self._count_failure(error, until)
        return state == OPEN

    @contextmanager
    def guard(
        self, *, counts: Callable[[BaseException], bool] = lambda exc: True
    ) -> Iterator[None]:
        """Around one call: refuse it when open; record its outcome.

        `counts(exc)` says whether an exception is the service's fault (an outage, a 5xx) or the
        caller's (a 404 for one vehicle): only the former moves the breaker.

        A call interrupted by anything but an `Exception` (cancelled, timed out, interrupted)
        says nothing about the service: no outcome is recorded, and an interrupted probe puts
        the circuit back to open, ready for the next caller to probe at once.
        """
        probe = self.before_call()
        try:
            yield
        except Exception as exc:
            if counts(exc):
                self.record_failure(f"{type(exc).__name__}: {exc}", probe=probe)
            elif probe:
                self.record_success(probe=True)
            raise
        except BaseException:
            if probe:
                self._abandon_probe()
            raise
        self.record_success(probe=probe)

    def _abandon_probe(self) -> None:
        """The probe ended without an outcome: open again, due for a new probe now."""
        self._transition(
            {"state": OPEN, "opened_until": self._clock(), "probe_started_at": None},
            state=HALF_OPEN,
        )

    # -- inspection ------------------------------------------------------------------------
    def status(self) -> BreakerStatus:
        return _status(self._row())

    def reset(self) -> None:
        self._row()
        self._transition(
            {"state": CLOSED, "failures": 0, "opened_until": None, "probe_started_at": None}
        )

    # -- storage ---------------------------------------------------------------------------
    def _ensure_row(self) -> bool:
        """Create the row when missing; True when it was missing."""
        with session_scope(self.url) as session:
            if session.get(BreakerRow, self.service) is not None:
                return False
        self._row()
        return True

    def _row(self) -> BreakerRow:
        with session_scope(self.url) as session:
            row = session.get(BreakerRow, self.service)
            if row is not None:
                return row
        try:
            with session_scope(self.url) as session:
                session.add(BreakerRow(service=self.service))
        except IntegrityError:
            pass  # another caller created it first: same row either way
        with session_scope(self.url) as session:
            row = session.get(BreakerRow, self.service)
            assert row is not None
            return row

    def _transition(self, values: dict, *, state: str | None = None, extra=None) -> bool:
        """One conditional UPDATE; True when it changed the row (this caller won)."""
        statement = update(BreakerRow).where(BreakerRow.service == self.service)
        if state is not None:
            statement = statement.where(BreakerRow.state == state)
        if extra is not None:
            statement = statement.where(extra)
        with get_engine(self.url).begin() as connection:
            return connection.execute(statement.values(**values)).rowcount == 1


def _announce(event: dict) -> None:
    """Tell the Prefect server (for the circuit alerts); never fails or delays a call for long."""
    store_events.post([event])


def breaker(service: str) -> CircuitBreaker:
    """The configured breaker of `service` (policy from breakers.yaml)."""
    return CircuitBreaker(service)


def all_statuses(url: str | None = None) -> list[BreakerStatus]:
    """Every breaker that has seen a call, by service name."""
    with session_scope(url) as session:
        rows = session.exec(select(BreakerRow).order_by(BreakerRow.service)).all()
    return [_status(row) for row in rows]


def _status(row: BreakerRow) -> BreakerStatus:
    return BreakerStatus(
        service=row.service,
        state=row.state,
        failures=row.failures,
        opened_until=row.opened_until,
        last_error=row.last_error,
        times_opened=row.times_opened,
    )
