"""Task tags name the vendor a task calls, for filtering runs; none looks like a concurrency limit.

Prefect reads a tag as a tag concurrency limit's name when such a limit exists, so a tag shaped
like a pool (`api:dnc`, `rate:…`, `browser`) would suggest a limit nobody created (the pools are
global concurrency limits held by the call policy, multistore/calls.py).
"""

from __future__ import annotations

import importlib
import pkgutil

from prefect import Task

import tasks
from multistore.pools import POOL_NAMES, rate_name


def test_no_task_tag_looks_like_a_pool() -> None:
    pool_like = set(POOL_NAMES) | {rate_name(p) for p in POOL_NAMES}
    found = {}
    for module in pkgutil.iter_modules(tasks.__path__):
        loaded = importlib.import_module(f"tasks.{module.name}")
        for name, value in vars(loaded).items():
            if isinstance(value, Task):
                found[f"tasks.{module.name}.{name}"] = set(value.tags)
    assert len(found) >= 8, found
    offending = {
        where: sorted(t for t in tags if t in pool_like or t.startswith(("api:", "rate:")))
        for where, tags in found.items()
    }
    assert not any(offending.values()), offending
