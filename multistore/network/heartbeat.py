"""Heartbeats: what each pass of health checks changes, and which transitions it causes.

The rule: a node is unreachable once it has not answered for `UNREACHABLE_AFTER` (two minutes)
— counted from its last answer, or from its first check if it never answered — and reachable
again at its next answer. Every change of state is a Transition (the flow emits each as an
event). Time comes from the checks themselves, so tests move a clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from multistore.db import session_scope
from multistore.models import Store
from multistore.network import machines
from multistore.network.models import NodeHealth, StoreNode
from multistore.store_events import store_resource

UNREACHABLE_AFTER = timedelta(minutes=2)
NODE_UNREACHABLE, NODE_REACHABLE = "multistore.node.unreachable", "multistore.node.reachable"


@dataclass(frozen=True)
class Check:
    """One health check of one node at `at`: answered (`ok`) or not, and why."""

    store_id: str
    at: datetime
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    machine_status: str | None = None


@dataclass(frozen=True)
class Transition:
    store_id: str
    reachable: bool
    at: datetime
    last_seen_at: datetime | None
    reason: str | None

    @property
    def event(self) -> str:
        return NODE_REACHABLE if self.reachable else NODE_UNREACHABLE

    def as_event(self, store: Any) -> dict[str, Any]:
        """`emit_event`'s arguments: the store as the resource (multistore.store_events'
        shape, so alerts match a store, priority or region the same way)."""
        related = {**store_resource(store), "prefect.resource.role": "store"}
        return {
            "event": self.event,
            "resource": store_resource(store),
            "related": [related],
            "payload": {
                "store_id": self.store_id,
                "at": self.at.isoformat(),
                "last_seen_at": None
                if self.last_seen_at is None
                else self.last_seen_at.isoformat(),
                "reason": self.reason,
            },
        }


def targets(url: str | None = None) -> list[tuple[str, str]]:
    """(store id, API URL) of every enabled store node with an API, read now: stores added or
    removed since the last pass are in or out of this one."""
    with session_scope(url) as session:
        rows = session.exec(
            select(StoreNode.store_id, StoreNode.api_url)
            .join(Store, col(Store.id) == col(StoreNode.store_id))
            .where(col(Store.enabled).is_(True), col(StoreNode.api_url).is_not(None))
            .order_by(StoreNode.store_id)
        ).all()
    return [(store_id, api_url) for store_id, api_url in rows if api_url]


def record(checks: Iterable[Check], url: str | None = None) -> list[Transition]:
    """Store a pass's checks (one transaction) and return the transitions they caused."""
    checks = list(checks)
    transitions: list[Transition] = []
    with session_scope(url) as session:
        known = {
            row.store_id: row
            for row in session.exec(
                select(NodeHealth).where(col(NodeHealth.store_id).in_([c.store_id for c in checks]))
            )
        }
        for check in checks:
            health = known.get(check.store_id) or NodeHealth(
                store_id=check.store_id, reachable=True, first_checked_at=check.at
            )
            transition = _apply(health, check)
            if transition is not None:
                transitions.append(transition)
            session.add(health)
        statuses = {c.store_id: c.machine_status for c in checks if c.ok and c.machine_status}
        machines.record_statuses(session, statuses, at=max((c.at for c in checks), default=None))
    return transitions


def _apply(health: NodeHealth, check: Check) -> Transition | None:
    health.last_checked_at = check.at
    if health.first_checked_at is None:
        health.first_checked_at = check.at
    if check.ok:
        health.last_seen_at = check.at
        health.latency_ms = check.latency_ms
        health.last_error = None
        health.machine_status = check.machine_status or health.machine_status
        if not health.reachable:
            health.reachable = True
            health.changed_at = check.at
            return Transition(check.store_id, True, check.at, check.at, None)
        return None
    health.last_error = check.error
    silent_since = health.last_seen_at or health.first_checked_at
    if health.reachable and check.at - silent_since >= UNREACHABLE_AFTER:
        health.reachable = False
        health.changed_at = check.at
        return Transition(check.store_id, False, check.at, health.last_seen_at, check.error)
    return None
