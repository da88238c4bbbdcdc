"""Is everything well, and per store what is wrong: the answer of `/health` and `multistore health`.

Overall status:
- "unavailable" when the registry database or the Prefect server cannot be reached (HTTP 503),
  with one reason line for each;
- "degraded" when a store is quarantined, an outside service's circuit is open, or an outside
  system a store uses does not answer (multistore/outside_systems.py: its block document's base
  URL, probed), or when the Prefect server keeps its slot leases in memory (Prefect's default):
  a restart of that server leaks every slot held at that moment for good, so a pool runs short
  until someone repairs it (one warning line says how to fix the server's setting);
- "ok" otherwise.

Per store: enabled, quarantined (since, why), its last success, its consecutive failures, its
lag (how long since its window last opened without a completed run since), the circuits of
the outside services its jobs use, and whether each outside system it uses answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from multistore.breaker import OPEN, BreakerStatus, all_statuses
from multistore.db import DatabaseUnavailable, session_scope
from multistore.models import Store, StoreRun
from multistore.outside_systems import Probe, check_systems, probe
from multistore.prefect_api import MEMORY_LEASE_STORAGE, PrefectAPI, PrefectUnavailable
from multistore.settings import get_settings
from multistore.windows import format_window, last_opened

OK, DEGRADED, UNAVAILABLE = "ok", "degraded", "unavailable"

# The outside services (circuit breaker names) each job calls.
JOB_SERVICES: dict[str, tuple[str, ...]] = {
    "homenet_feed": ("homenet",),
    "dealercom_feed": ("dealercom",),
    "vdp_scrape": ("vdp",),
    "url_shorten": ("shortener",),
    "dnc_compliance": ("crm", "dnc", "crm_ui"),
}


@dataclass
class Health:
    status: str
    checked_at: datetime
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stores: list[dict[str, Any]] = field(default_factory=list)
    circuits: list[dict[str, Any]] = field(default_factory=list)
    # Each outside system (a base URL from the stores' block documents): does it answer?
    systems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        return 503 if self.status == UNAVAILABLE else 200

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checked_at": self.checked_at.isoformat(),
            "reasons": self.reasons,
            "warnings": self.warnings,
            "stores": self.stores,
            "circuits": self.circuits,
            "systems": self.systems,
        }


def services_of(jobs: Iterable[str]) -> list[str]:
    """The outside services a store with these jobs calls, in job order, once each."""
    seen: dict[str, None] = {}
    for job in jobs:
        for service in JOB_SERVICES.get(job, ()):
            seen.setdefault(service)
    return list(seen)


def check_health(
    now: datetime,
    *,
    registry_url: str | None = None,
    prefect: PrefectAPI | None = None,
    prober: Callable[[str], Probe] = probe,
) -> Health:
    """The health at `now` (see the module's rules); never raises for an unreachable part."""
    health = Health(status=OK, checked_at=now)
    api = prefect or PrefectAPI()
    try:
        api.check()
    except PrefectUnavailable as exc:
        health.reasons.append(str(exc))
    else:
        health.warnings.extend(lease_storage_warnings(api))
    try:
        stores, successes, breakers = _read_registry(registry_url)
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        health.reasons.append(_registry_reason(exc, registry_url))
        health.status = UNAVAILABLE
        return health
    circuits = {b.service: b for b in breakers}
    health.circuits = [_circuit(b) for b in breakers]
    health.stores = [store_health(s, now, successes.get(s.id), circuits) for s in stores]
    if health.reasons:
        health.status = UNAVAILABLE
        return health
    try:
        per_store, health.systems = check_systems(stores, prefect=api, prober=prober)
    except PrefectUnavailable as exc:  # went away between the check and the block reads
        health.reasons.append(str(exc))
        health.status = UNAVAILABLE
        return health
    for row in health.stores:
        row["systems"] = per_store.get(row["id"], {})
    if (
        health.warnings
        or any(s["quarantined"] for s in health.stores)
        or any(c["state"] == OPEN for c in health.circuits)
        or any(not system["answers"] for row in per_store.values() for system in row.values())
    ):
        health.status = DEGRADED
    return health


def lease_storage_warnings(prefect: PrefectAPI) -> list[str]:
    """One line when the server keeps slot leases in memory (see the module docstring)."""
    if prefect.lease_storage() != MEMORY_LEASE_STORAGE:
        return []
    return [
        f"Prefect server {prefect.url} keeps concurrency slot leases in memory: a restart "
        "leaks every slot held then; start it with PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="
        "prefect.server.concurrency.lease_storage.filesystem"
    ]


def store_health(
    store: Store,
    now: datetime,
    last_success: datetime | None,
    circuits: Mapping[str, BreakerStatus],
) -> dict[str, Any]:
    """One store's health (see the module docstring)."""
    opened = last_opened(store.window_start, store.window_end, store.timezone, now)
    lag = None
    if store.enabled and opened is not None and (last_success is None or last_success < opened):
        lag = round((now - opened).total_seconds(), 3)
    return {
        "id": store.id,
        "priority": str(store.priority),
        "region": store.region,
        "enabled": store.enabled,
        "quarantined": store.quarantined_at is not None,
        "quarantined_at": _iso(store.quarantined_at),
        "quarantine_reason": store.quarantine_reason,
        "last_success_at": _iso(last_success),
        "consecutive_failures": store.consecutive_failures,
        "window": format_window(store.window_start, store.window_end),
        "timezone": store.timezone,
        "window_opened_at": _iso(opened),
        "lag_seconds": lag,
        "circuits": {
            service: (circuits[service].state if service in circuits else "closed")
            for service in services_of(store.jobs or [])
        },
    }


def last_successes(registry_url: str | None = None) -> dict[str, datetime]:
    """When each store's latest completed run finished."""
    query = (
        select(StoreRun.store_id, func.max(StoreRun.finished_at))
        .where(StoreRun.status == "completed")
        .group_by(StoreRun.store_id)
    )
    with session_scope(registry_url) as session:
        rows = session.exec(query).all()
    # max() over the column bypasses its type: SQLite hands back naive UTC (or text).
    return {store_id: _aware(value) for store_id, value in rows if value is not None}


def _read_registry(
    url: str | None,
) -> tuple[list[Store], dict[str, datetime], list[BreakerStatus]]:
    with session_scope(url) as session:
        stores = list(session.exec(select(Store).order_by(col(Store.id))).all())
    return stores, last_successes(url), all_statuses(url)


def _circuit(status: BreakerStatus) -> dict[str, Any]:
    return {
        "service": status.service,
        "state": status.state,
        "failures": status.failures,
        "opened_until": _iso(status.opened_until),
        "times_opened": status.times_opened,
        "last_error": status.last_error,
    }


def _registry_reason(exc: Exception, url: str | None) -> str:
    if isinstance(exc, DatabaseUnavailable):
        return str(exc)
    where = make_url(url or get_settings().registry_url).render_as_string(hide_password=True)
    orig = getattr(exc, "orig", None) or exc
    first = next((line.strip() for line in str(orig).splitlines() if line.strip()), "")
    return f"registry database {where} is not reachable: {first or type(exc).__name__}"


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
