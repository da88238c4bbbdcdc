"""The jobs a store pipeline can run: plain functions of a JobContext, registered by name.

A job composes Prefect tasks (tasks/) and returns its metrics as a dict; it raises on failure.
The store pipeline runs each one as a task run named for the job, after its dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flows import inventory
from flows.dnc_compliance import run_dnc_compliance
from multistore.parquet import partition_path
from multistore.registry import Store


@dataclass
class JobContext:
    """What a job knows: its store, the run's date, where outputs go, its dependencies' metrics."""

    store: Store
    run_date: date
    data_dir: Path
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)

    def output(self, dataset: str, filename: str) -> Path:
        """Where this store's `filename` of `dataset` for the run's date goes (Hive partitions)."""
        return partition_path(
            self.data_dir, dataset, filename, store_id=self.store.id, date=str(self.run_date)
        )


Job = Callable[[JobContext], dict[str, Any]]

JOBS: dict[str, Job] = {
    "homenet_feed": inventory.homenet_feed,
    "dealercom_feed": inventory.dealercom_feed,
    "vdp_scrape": inventory.vdp_scrape,
    "url_shorten": inventory.url_shorten,
    "dnc_compliance": run_dnc_compliance,
}
