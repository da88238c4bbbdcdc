"""The jobs a store pipeline can run: plain functions of a JobContext, registered by name.

A job gets what it needs from its context (the store's clients, its outputs, its dependencies'
metrics), runs tasks (tasks/) through `ctx.run`, and returns its metrics as a dict; it raises on
failure. The store pipeline runs each one as a task run named for the job, after its
dependencies. A logic test gives a job fakes (`sandbox.fakes`) and `run=run_inline`, so the same
recipe runs in one process without a Prefect server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from blocks.clients import BlockClients
from flows import inventory
from flows.dnc_compliance import run_dnc_compliance
from multistore.calls import store_pools
from multistore.clients import StoreClients
from multistore.outputs import Outputs
from multistore.registry import Store
from tasks.pools import PREFECT_POOLS


def run_task(task: Any, *args: Any, **kwargs: Any) -> Any:
    """A task as a Prefect task run (the default)."""
    return task(*args, **kwargs)


def run_inline(task: Any, *args: Any, **kwargs: Any) -> Any:
    """A task's function, called as is (logic tests: no Prefect server)."""
    return task.fn(*args, **kwargs)


@dataclass
class JobContext:
    """What a job knows: its store, the run's date, where outputs go, its dependencies' metrics,
    the store's clients (default: built from its blocks, holding Prefect's pools within the
    store's own caps) and how to run a task."""

    store: Store
    run_date: date
    data_dir: Path
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: StoreClients | None = None
    run: Callable[..., Any] = run_task

    def __post_init__(self) -> None:
        if self.clients is None:
            pools = store_pools(PREFECT_POOLS, self.store.id, self.store.pool_caps)
            self.clients = BlockClients(self.store, pools=pools)
        self.outputs = Outputs(self.data_dir, self.store.id, self.run_date)

    def output(self, dataset: str, filename: str) -> Path:
        """Where this store's `filename` of `dataset` for the run's date goes (Hive partitions)."""
        return self.outputs.path(dataset, filename)

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter:
        try:
            return get_run_logger()
        except MissingContextError:
            return logging.getLogger("multistore.jobs")


Job = Callable[[JobContext], dict[str, Any]]

JOBS: dict[str, Job] = {
    "homenet_feed": inventory.homenet_feed,
    "dealercom_feed": inventory.dealercom_feed,
    "vdp_scrape": inventory.vdp_scrape,
    "url_shorten": inventory.url_shorten,
    "dnc_compliance": run_dnc_compliance,
}
