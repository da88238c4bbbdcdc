"""No task carries a tag.

Prefect reads a tag as a tag concurrency limit's name, and checks every tag of a task against the
server when the task starts, with a client that does not retry: a tag fails the task during a
server restart. A tag shaped like a pool (`api:dnc`, `rate:…`, `browser`) would also suggest a
limit nobody created (the pools are global concurrency limits held by the call policy,
multistore/calls.py).
"""

from __future__ import annotations

import importlib
import pkgutil

from prefect import Task

import tasks
from multistore.pools import POOL_NAMES, rate_name


def _task_tags() -> dict[str, set[str]]:
    found = {}
    for module in pkgutil.iter_modules(tasks.__path__):
        loaded = importlib.import_module(f"tasks.{module.name}")
        for name, value in vars(loaded).items():
            if isinstance(value, Task):
                found[f"tasks.{module.name}.{name}"] = set(value.tags)
    assert len(found) >= 8, found
    return found


def test_no_task_carries_a_tag() -> None:
    tagged = {where: sorted(tags) for where, tags in _task_tags().items() if tags}
    assert tagged == {}


def test_no_task_tag_looks_like_a_pool() -> None:
    pool_like = set(POOL_NAMES) | {rate_name(p) for p in POOL_NAMES}
    found = _task_tags()
    offending = {
        where: sorted(t for t in tags if t in pool_like or t.startswith(("api:", "rate:")))
        for where, tags in found.items()
    }
    assert not any(offending.values()), offending
