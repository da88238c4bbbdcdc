"""`/metrics`: the registry and the pools in the Prometheus text format.

Nothing is counted in this process: every number is read back from where it is recorded (the
store runs and their statistics in the registry, the circuit breakers' rows, Prefect's
concurrency limits), so any number of `multistore serve` processes agree, and a restart loses
nothing. Counters are totals over the registry's finished store runs.

A scrape does not re-read the run history: `RunTotals` keeps the totals and reads only the runs
that finished since the last scrape (a run's row is written once more when it finishes, so a
run is folded in exactly once, when it is final). The first scrape of a process reads the history
once, in pages of `PAGE` rows.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select as sql_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from multistore.breaker import OPEN, all_statuses
from multistore.clock import SYSTEM_CLOCK, Clock
from multistore.db import DatabaseUnavailable, get_engine, session_scope
from multistore.health import store_health
from multistore.models import Store, StoreRun
from multistore.prefect_api import PrefectAPI, PrefectUnavailable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUNNING = "running"
SETTLE = timedelta(minutes=1)
# Rows of run statistics read in one query (the first scrape of a long history reads pages).
PAGE = 2000

# Per vendor and store, from each run's `api` statistics: {vendor: {key: n}}.
API_COUNTERS = {
    "calls": "API calls made (every HTTP request, retries included)",
    "rate_limited": "API answers 429 (rate limited)",
    "retries": "API calls that were retries of an earlier failed call",
    "server_errors": "API answers 5xx",
}


@dataclass
class StoreTotals:
    """One store's sums over its finished runs."""

    counts: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    jobs: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    api: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    last_success: datetime | None = None

    def fold(self, status: str, finished_at: datetime | None, metrics: dict | None) -> None:
        self.counts["runs"] += 1
        self.counts["successes"] += status == "completed"
        self.counts["failures"] += status == "failed"
        if status == "completed" and finished_at is not None:
            self.last_success = max(finished_at, self.last_success or finished_at)
        metrics = metrics or {}
        for outcome in ("successful", "failed", "blocked"):
            self.jobs[outcome] += metrics.get(f"{outcome}_jobs", 0) or 0
        compliance = metrics.get("compliance") or {}
        self.counts["contacts"] += compliance.get("contacts", 0) or 0
        self.counts["flags_changed"] += compliance.get("flags_changed", 0) or 0
        for vendor, numbers in (metrics.get("api") or {}).items():
            for key in API_COUNTERS:
                self.api[key, vendor] += (numbers or {}).get(key, 0) or 0


class RunTotals:
    """The finished store runs of a registry, summed per store, kept up to date incrementally.

    Run ids grow; every run at or below `watermark` is final and folded in. Final runs above it
    (they finished while an older run still runs) are folded once and remembered in `_above`.
    So a scrape reads the ids and states of the runs from the oldest one still running on (a
    dead run's row is closed as crashed within minutes: the lease), and the statistics of the
    runs that finished since the last scrape, nothing more. `rows_read` counts rows fetched.

    The watermark passes a run only `SETTLE` after it started: on PostgreSQL a run's id is
    taken before its insert commits, so a lower id can become visible after a higher one.
    """

    def __init__(self, registry_url: str | None = None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.registry_url = registry_url
        self.clock = clock
        self.stores: dict[str, StoreTotals] = defaultdict(StoreTotals)
        self.watermark = 0
        self._above: set[int] = set()
        self.rows_read = 0
        self._lock = threading.Lock()

    def refresh(self, known_stores: set[str]) -> dict[str, StoreTotals]:
        """Fold in the runs finished since the last call; drop stores no longer registered
        (their runs went with them)."""
        with self._lock:
            table = StoreRun.__table__  # type: ignore[attr-defined]
            engine = get_engine(self.registry_url)
            with engine.connect() as conn:
                states = conn.execute(
                    sql_select(table.c.id, table.c.status, table.c.started_at)
                    .where(table.c.id > self.watermark)
                    .order_by(table.c.id)
                ).all()
                self.rows_read += len(states)
                fresh = [
                    row[0] for row in states if row[1] != RUNNING and row[0] not in self._above
                ]
                for first in range(0, len(fresh), PAGE):
                    page = fresh[first : first + PAGE]
                    rows = conn.execute(
                        sql_select(
                            table.c.store_id, table.c.status, table.c.finished_at, table.c.metrics
                        ).where(table.c.id.in_(page))
                    ).all()
                    self.rows_read += len(rows)
                    for store_id, status, finished_at, metrics in rows:
                        self.stores[store_id].fold(status, finished_at, metrics)
                    self._above.update(page)  # folded: never again, even if a page fails later
            settled = self.clock.now() - SETTLE
            for run_id, status, started_at in states:
                if status == RUNNING or started_at > settled:
                    break
                self.watermark = run_id
                self._above.discard(run_id)
            for gone in set(self.stores) - known_stores:
                del self.stores[gone]
            return dict(self.stores)


class RegistryCollector(Collector):
    """Reads the registry (and the Prefect server's pools) each time it is collected; the run
    totals incrementally through `totals`, which the serving process keeps between scrapes."""

    def __init__(
        self,
        *,
        registry_url: str | None = None,
        prefect: PrefectAPI | None = None,
        totals: RunTotals | None = None,
    ):
        self.registry_url = registry_url
        self.prefect = prefect
        self.totals = totals or RunTotals(registry_url)

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
            stores = list(session.exec(select(Store).order_by(col(Store.id))).all())
        totals = self.totals.refresh({store.id for store in stores})
        breakers = all_statuses(self.registry_url)
        circuits = {b.service: b for b in breakers}

        yield from _run_totals(totals)
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
            last_success = totals[store.id].last_success if store.id in totals else None
            row = store_health(store, now, last_success, circuits)
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


def _run_totals(totals: dict[str, StoreTotals]) -> Iterator[Any]:
    """Counters summed over every finished store run, per store."""
    families = {
        "runs": CounterMetricFamily(
            "multistore_store_runs",
            "Store pipeline runs finished (completed, failed, stopped or crashed)",
            labels=["store"],
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
    job_family = CounterMetricFamily(
        "multistore_jobs", "Jobs of store runs, by outcome", labels=["store", "outcome"]
    )
    api_families = {
        key: CounterMetricFamily(f"multistore_api_{key}", help_text, labels=["vendor", "store"])
        for key, help_text in API_COUNTERS.items()
    }
    for store_id, store in sorted(totals.items()):
        for key, family in families.items():
            family.add_metric([store_id], store.counts[key])
        for outcome, n in sorted(store.jobs.items()):
            job_family.add_metric([store_id, outcome], n)
        for (key, vendor), n in sorted(store.api.items()):
            api_families[key].add_metric([vendor, store_id], n)
    yield from families.values()
    yield job_family
    yield from api_families.values()


class Metrics:
    """`/metrics` of one serving process: the collector and its run totals, kept between
    scrapes (so a scrape reads only what changed since the last)."""

    def __init__(self, *, registry_url: str | None = None, prefect: PrefectAPI | None = None):
        self.totals = RunTotals(registry_url)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(
            RegistryCollector(registry_url=registry_url, prefect=prefect, totals=self.totals)
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def render(*, registry_url: str | None = None, prefect: PrefectAPI | None = None) -> bytes:
    """The metrics as Prometheus text, read now (one scrape, the history read once)."""
    return Metrics(registry_url=registry_url, prefect=prefect).render()
