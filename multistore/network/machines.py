"""Machines: status from the node's heartbeat, maintenance logs, repair schedules, uptime.

Uptime over a period is the share of it the machine spent in an "up" status, computed from its
status history (one row per change): each status holds from its change to the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from multistore.db import session_scope
from multistore.network.models import (
    Machine,
    MachineStatusChange,
    MaintenanceLog,
    RepairSchedule,
)
from multistore.network.registry import NetworkError

UP_STATUSES = frozenset({"running", "idle"})
REPAIR_STATUSES = ("scheduled", "done", "cancelled")


def record_statuses(session: Session, statuses: dict[str, str], *, at: datetime | None) -> int:
    """Set each store's machine status (store id → status) inside the caller's transaction;
    a change is a history row. Returns how many changed."""
    if not statuses or at is None:
        return 0
    changed = 0
    for machine in session.exec(select(Machine).where(col(Machine.store_id).in_(list(statuses)))):
        status = statuses[machine.store_id]
        if status == machine.status:
            continue
        machine.status, machine.status_at = status, at
        session.add(machine)
        session.add(MachineStatusChange(machine_id=machine.id, at=at, status=status))
        changed += 1
    return changed


def set_status(machine_id: str, status: str, at: datetime, url: str | None = None) -> None:
    with session_scope(url) as session:
        machine = _machine(session, machine_id)
        record_statuses(session, {machine.store_id: status}, at=at)


def log_maintenance(
    machine_id: str,
    *,
    at: datetime,
    kind: str,
    notes: str = "",
    parts: list[str] | None = None,
    technician: str = "",
    url: str | None = None,
) -> MaintenanceLog:
    with session_scope(url) as session:
        _machine(session, machine_id)
        entry = MaintenanceLog(
            machine_id=machine_id,
            at=at,
            kind=kind,
            notes=notes,
            parts=parts or [],
            technician=technician,
        )
        session.add(entry)
        session.flush()
        return entry


def schedule_repair(
    machine_id: str, *, due_at: datetime, notes: str = "", url: str | None = None
) -> RepairSchedule:
    with session_scope(url) as session:
        _machine(session, machine_id)
        repair = RepairSchedule(machine_id=machine_id, due_at=due_at, notes=notes)
        session.add(repair)
        session.flush()
        return repair


def finish_repair(repair_id: int, status: str = "done", url: str | None = None) -> RepairSchedule:
    if status not in REPAIR_STATUSES:
        raise NetworkError(f"repair {repair_id}: status {status!r} is not one of {REPAIR_STATUSES}")
    with session_scope(url) as session:
        repair = session.get(RepairSchedule, repair_id)
        if repair is None:
            raise NetworkError(f"repair {repair_id}: no such repair")
        repair.status = status
        session.add(repair)
        return repair


def due_repairs(until: datetime, url: str | None = None) -> list[RepairSchedule]:
    """Scheduled repairs due by `until`, soonest first (the (status, due_at) index)."""
    with session_scope(url) as session:
        return list(
            session.exec(
                select(RepairSchedule)
                .where(RepairSchedule.status == "scheduled", col(RepairSchedule.due_at) <= until)
                .order_by(RepairSchedule.due_at)
            )
        )


@dataclass(frozen=True)
class MachineReport:
    machine: Machine
    uptime: float | None
    maintenance: list[MaintenanceLog]
    repairs: list[RepairSchedule]


def report(
    machine_id: str, *, start: datetime, end: datetime, url: str | None = None
) -> MachineReport:
    with session_scope(url) as session:
        machine = _machine(session, machine_id)
        history = list(
            session.exec(
                select(MachineStatusChange)
                .where(MachineStatusChange.machine_id == machine_id)
                .order_by(MachineStatusChange.at, MachineStatusChange.id)
            )
        )
        logs = list(
            session.exec(
                select(MaintenanceLog)
                .where(MaintenanceLog.machine_id == machine_id)
                .order_by(col(MaintenanceLog.at).desc())
            )
        )
        repairs = list(
            session.exec(
                select(RepairSchedule)
                .where(RepairSchedule.machine_id == machine_id)
                .order_by(RepairSchedule.due_at)
            )
        )
    changes = [(c.at, c.status) for c in history]
    return MachineReport(machine, uptime(changes, start=start, end=end), logs, repairs)


def uptime(changes: list[tuple[datetime, str]], *, start: datetime, end: datetime) -> float | None:
    """Share of [start, end) spent in an up status; None when nothing is known of the period
    (no change at or before its end). Time before the first known status is not counted."""
    if end <= start:
        raise NetworkError(f"uptime: period end {end.isoformat()} is not after its start")
    known = up = 0.0
    for i, (at, status) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else end
        lo, hi = max(at, start), min(until, end)
        if hi <= lo:
            continue
        seconds = (hi - lo).total_seconds()
        known += seconds
        if status in UP_STATUSES:
            up += seconds
    return None if known == 0 else up / known


def _machine(session: Session, machine_id: str) -> Machine:
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NetworkError(f"machine {machine_id!r}: no such machine")
    return machine
