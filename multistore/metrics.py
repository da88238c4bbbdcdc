"""`/metrics`: the registry and the pools in the Prometheus text format, read at each scrape.

Nothing is counted in this process: every number is read back from where it is recorded (the
store runs and their statistics in the registry, the circuit breakers' rows, Prefect's
concurrency limits), so any number of `multistore serve` processes agree, and a restart loses
nothing. Counters are totals over the registry's run history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from multistore.breaker import OPEN, all_statuses
from multistore.db import DatabaseUnavailable, session_scope
from multistore.health import last_successes, store_health
from multistore.models import Store, StoreRun
from multistore.prefect_api import PrefectAPI, PrefectUnavailable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Per vendor and store, from each run's `api` statistics: {vendor: {key: n}}.
API_COUNTERS = {
    "calls": "API calls made (every HTTP request, retries included)",
    "rate_limited": "API answers 429 (rate limited)",
    "retries": "API calls that were retries of an earlier failed call",
    "server_errors": "API answers 5xx",
}


class RegistryCollector(Collector):
    """Reads the registry (and the Prefect server's pools) each time it is collected."""

    def __init__(self, *, registry_url: str | None = None, prefect: PrefectAPI | None = None):
        self.registry_url = registry_url
        self.prefect = prefect

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "multistore_up", "Whether a part answered this scrape (1) or not (0)", labels=["part"]
        )
        try:
            yield from self._registry_metrics(datetime.now(UTC))
            up.add_metric(["registry"], 1)
        except (DatabaseUnavailable, SQLAlchemyError):
            up.add_metric(["registry"], 0)
        try:
            pools = (self.prefect or PrefectAPI()).pools()
            up.add_metric(["prefect"], 1)
        except PrefectUnavailable:
            pools = []
            up.add_metric(["prefect"], 0)
        yield up
        in_use = GaugeMetricFamily(
            "multistore_pool_slots_in_use", "Slots of a pool held now", labels=["pool"]
        )
        limit = GaugeMetricFamily(
            "multistore_pool_slots_limit", "Slots a pool has (its limit)", labels=["pool"]
        )
        for pool in pools:
            in_use.add_metric([pool.name], pool.active_slots)
            limit.add_metric([pool.name], pool.limit)
        yield in_use
        yield limit

    def _registry_metrics(self, now: datetime) -> Iterator[Any]:
        with session_scope(self.registry_url) as session:
            stores = list(session.exec(select(Store)).all())
            runs = session.exec(select(StoreRun.store_id, StoreRun.status, StoreRun.metrics)).all()
        successes = last_successes(self.registry_url)
        breakers = all_statuses(self.registry_url)
        circuits = {b.service: b for b in breakers}

        totals = _run_totals(runs)
        yield from totals
        info = GaugeMetricFamily(
            "multistore_store_info",
            "A store's labels (1 per store)",
            labels=["store", "priority", "region", "enabled"],
        )
        failures = GaugeMetricFamily(
            "multistore_store_consecutive_failures", "Failed runs in a row", labels=["store"]
        )
        quarantined = GaugeMetricFamily(
            "multistore_store_quarantined", "1 when the store is quarantined", labels=["store"]
        )
        lag = GaugeMetricFamily(
            "multistore_store_lag_seconds",
            "Seconds since the store's window opened without a completed run (0 when none due)",
            labels=["store"],
        )
        for store in stores:
            row = store_health(store, now, successes.get(store.id), circuits)
            info.add_metric(
                [store.id, row["priority"], store.region or "", str(store.enabled).lower()], 1
            )
            failures.add_metric([store.id], store.consecutive_failures)
            quarantined.add_metric([store.id], int(row["quarantined"]))
            lag.add_metric([store.id], row["lag_seconds"] or 0)
        yield from (info, failures, quarantined, lag)

        circuit_open = GaugeMetricFamily(
            "multistore_circuit_open", "1 while a service's circuit is open", labels=["service"]
        )
        opened = CounterMetricFamily(
            "multistore_circuit_opened", "Times a service's circuit opened", labels=["service"]
        )
        for status in breakers:
            circuit_open.add_metric([status.service], int(status.state == OPEN))
            opened.add_metric([status.service], status.times_opened)
        yield circuit_open
        yield opened


def _run_totals(runs: Any) -> Iterator[Any]:
    """Counters summed over every store run in the registry."""
    by_store: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    jobs: dict[tuple[str, str], float] = defaultdict(float)
    api: dict[tuple[str, str, str], float] = defaultdict(float)
    for store_id, status, metrics in runs:
        counts = by_store[store_id]
        counts["runs"] += 1
        counts["successes"] += status == "completed"
        counts["failures"] += status == "failed"
        metrics = metrics or {}
        for outcome in ("successful", "failed", "blocked"):
            jobs[store_id, outcome] += metrics.get(f"{outcome}_jobs", 0) or 0
        compliance = metrics.get("compliance") or {}
        counts["contacts"] += compliance.get("contacts", 0) or 0
        counts["flags_changed"] += compliance.get("flags_changed", 0) or 0
        for vendor, numbers in (metrics.get("api") or {}).items():
            for key in API_COUNTERS:
                api[key, vendor, store_id] += (numbers or {}).get(key, 0) or 0

    families = {
        "runs": CounterMetricFamily(
            "multistore_store_runs", "Store pipeline runs started", labels=["store"]
        ),
        "successes": CounterMetricFamily(
            "multistore_store_successes", "Store runs that completed", labels=["store"]
        ),
        "failures": CounterMetricFamily(
            "multistore_store_failures", "Store runs that failed", labels=["store"]
        ),
        "contacts": CounterMetricFamily(
            "multistore_contacts_processed", "CRM contacts a DNC run evaluated", labels=["store"]
        ),
        "flags_changed": CounterMetricFamily(
            "multistore_flags_changed", "CRM do-not-call flags changed", labels=["store"]
        ),
    }
    for store_id, counts in sorted(by_store.items()):
        for key, family in families.items():
            family.add_metric([store_id], counts[key])
    yield from families.values()
    job_family = CounterMetricFamily(
        "multistore_jobs", "Jobs of store runs, by outcome", labels=["store", "outcome"]
    )
    for (store_id, outcome), n in sorted(jobs.items()):
        job_family.add_metric([store_id, outcome], n)
    yield job_family
    for key, help_text in API_COUNTERS.items():
        family = CounterMetricFamily(f"multistore_api_{key}", help_text, labels=["vendor", "store"])
        for (k, vendor, store_id), n in sorted(api.items()):
            if k == key:
                family.add_metric([vendor, store_id], n)
        yield family


def render(*, registry_url: str | None = None, prefect: PrefectAPI | None = None) -> bytes:
    """The metrics as Prometheus text, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegistryCollector(registry_url=registry_url, prefect=prefect))
    return generate_latest(registry)
