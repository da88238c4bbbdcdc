"""The store registry: stores, their runs and their quarantine state, in one SQL database.

Every method is one short transaction, so many threads and worker processes can share the
registry; counters change with atomic UPDATEs, never read-modify-write in Python.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from threading import Lock
from typing import Any

from sqlalchemy import delete, exists, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from multistore.config import (
    DEFAULT_TIMEZONE,
    ConfigError,
    Priority,
    StoreConfig,
    default_blocks,
    parse_store,
    parse_window_option,
    store_ids_from_env,
    validate_timezone,
)
from multistore.db import get_engine
from multistore.models import Store, StoreRun, utcnow
from multistore.pools import POOL_NAMES
from multistore.settings import get_settings

__all__ = [
    "DuplicateStoreError",
    "Priority",
    "Registry",
    "RegistryError",
    "Store",
    "StoreRun",
    "UnknownStoreError",
]

_ENV_APPLIED: set[tuple[str, str]] = set()
_ENV_LOCK = Lock()


class RegistryError(ValueError):
    """A registry operation refused; the message is one line."""


class UnknownStoreError(LookupError):
    """No store with that id. `str()` names the id."""

    def __init__(self, store_id: str) -> None:
        super().__init__(store_id)
        self.store_id = store_id

    def __str__(self) -> str:
        return f"unknown store {self.store_id!r}"


class DuplicateStoreError(RegistryError):
    def __init__(self, store_id: str) -> None:
        super().__init__(f"id: store {store_id!r} already exists")
        self.store_id = store_id


class Registry:
    """The registry at `url` (default: settings.registry_url, i.e. MULTISTORE_DATABASE_URL).

    Opening it creates or upgrades the schema and adds the stores named in STORE_IDS.
    """

    def __init__(self, url: str | None = None, *, from_env: bool = True) -> None:
        self.url = url or get_settings().registry_url
        self.engine = get_engine(self.url)  # creates and upgrades every table
        if from_env:
            self._add_env_stores()

    # --- reading ---------------------------------------------------------------------------

    def get(self, store_id: str) -> Store:
        with self._session() as session:
            store = session.get(Store, store_id)
            if store is None:
                raise UnknownStoreError(store_id)
            return store

    def list(
        self,
        *,
        enabled: bool | None = None,
        quarantined: bool | None = None,
        priority: Priority | str | None = None,
        region: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> builtins.list[Store]:
        """Stores sorted by id, filtered by whichever arguments are given."""
        query = select(Store)
        if enabled is not None:
            query = query.where(Store.enabled == enabled)
        if quarantined is not None:
            column = col(Store.quarantined_at)
            query = query.where(column.is_not(None) if quarantined else column.is_(None))
        if priority is not None:
            query = query.where(Store.priority == Priority.parse(priority))
        if region is not None:
            query = query.where(Store.region == region)
        if ids is not None:
            query = query.where(col(Store.id).in_(builtins.list(ids)))
        with self._session() as session:
            return builtins.list(session.exec(query.order_by(Store.id)).all())

    def history(self, store_id: str, *, limit: int | None = None) -> builtins.list[StoreRun]:
        """The store's runs, newest first."""
        self.get(store_id)
        query = (
            select(StoreRun)
            .where(StoreRun.store_id == store_id)
            .order_by(col(StoreRun.started_at).desc(), col(StoreRun.id).desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            return builtins.list(session.exec(query).all())

    def failed_runs(self, *, since: datetime | None = None) -> builtins.list[StoreRun]:
        """Every store's failed runs (started at or after `since`), newest first."""
        query = select(StoreRun).where(StoreRun.status == "failed")
        if since is not None:
            query = query.where(col(StoreRun.started_at) >= since)
        with self._session() as session:
            return builtins.list(session.exec(query.order_by(col(StoreRun.id).desc())).all())

    def last_runs(self) -> dict[str, StoreRun]:
        """The newest run of every store that has one."""
        newest = (
            select(StoreRun.store_id, func.max(StoreRun.id).label("run_id"))
            .group_by(StoreRun.store_id)
            .subquery()
        )
        query = select(StoreRun).join(newest, StoreRun.id == newest.c.run_id)
        with self._session() as session:
            return {run.store_id: run for run in session.exec(query).all()}

    def has_history(self, store_id: str) -> bool:
        with self._session() as session:
            return bool(session.exec(select(exists().where(StoreRun.store_id == store_id))).one())

    # --- changing stores -------------------------------------------------------------------

    def add(
        self,
        store_id: str,
        *,
        name: str | None = None,
        priority: Priority | str = Priority.MEDIUM,
        enabled: bool = True,
        timezone: str = DEFAULT_TIMEZONE,
        window: str | None = None,
        jobs: Sequence[str] | None = None,
        dependencies: dict[str, builtins.list[str]] | None = None,
        blocks: dict[str, str] | None = None,
        region: str | None = None,
        tags: Sequence[str] | None = None,
        max_concurrent_jobs: int | None = None,
        pool_caps: Mapping[str, int] | None = None,
    ) -> Store:
        """Add one store (validated like an import entry); an existing id is refused."""
        fields: dict[str, Any] = {
            "id": store_id,
            "name": name,
            "priority": priority,
            "enabled": enabled,
            "timezone": timezone,
            "window": window,
            "dependencies": dependencies or {},
            "blocks": blocks,
            "region": region,
            "tags": builtins.list(tags or []),
            "max_concurrent_jobs": max_concurrent_jobs,
            "pool_caps": dict(pool_caps or {}),
        }
        if jobs is not None:
            fields["jobs"] = builtins.list(jobs)
        return self.add_config(parse_store(fields))

    def add_config(self, config: StoreConfig) -> Store:
        with self._session() as session:
            if session.get(Store, config.id) is not None:
                raise DuplicateStoreError(config.id)
            store = Store()
            _apply(store, config)
            session.add(store)
            try:
                session.commit()
            except IntegrityError:
                # Another process inserted the same id between our check and this insert.
                session.rollback()
                raise DuplicateStoreError(config.id) from None
            return store

    def remove(self, store_id: str) -> None:
        """Remove a store and its run history."""
        with self._session() as session:
            store = session.get(Store, store_id, with_for_update=True)
            if store is None:
                raise UnknownStoreError(store_id)
            session.exec(delete(StoreRun).where(col(StoreRun.store_id) == store_id))
            session.delete(store)
            session.commit()

    def enable(self, store_id: str) -> Store:
        return self._set(store_id, enabled=True)

    def disable(self, store_id: str) -> Store:
        return self._set(store_id, enabled=False)

    def set_priority(self, store_id: str, priority: Priority | str) -> Store:
        try:
            value = Priority.parse(priority)
        except ValueError as exc:
            raise ConfigError(f"priority: {exc}") from None
        return self._set(store_id, priority=value)

    def set_schedule(
        self,
        store_id: str,
        *,
        timezone: str | None = None,
        window: str | None = None,
        always: bool = False,
    ) -> Store:
        """Change the zone and/or the window ("HH:MM-HH:MM"); `always` removes the window."""
        changes: dict[str, Any] = {}
        if timezone is not None:
            try:
                validate_timezone(timezone)
            except ValueError as exc:
                raise ConfigError(f"timezone: {exc}") from None
            changes["timezone"] = timezone
        if always and window is not None:
            raise ConfigError("window: give a window or --always, not both")
        if always or window is not None:
            start, end = parse_window_option(None if always else window)
            changes.update(window_start=start, window_end=end)
        if not changes:
            raise ConfigError("schedule: nothing to change (give a timezone, a window or always)")
        return self._set(store_id, **changes)

    def set_caps(
        self,
        store_id: str,
        *,
        caps: Mapping[str, int | None] | None = None,
        max_concurrent_jobs: int | None = None,
        no_max_jobs: bool = False,
    ) -> Store:
        """Change the store's own caps: `caps` sets a pool's cap (None removes it, leaving the
        pool's size as the only bound); `max_concurrent_jobs` its jobs at once (`no_max_jobs`:
        as many as its graph allows). Validated with the whole store (one line naming it)."""
        if max_concurrent_jobs is not None and no_max_jobs:
            raise ConfigError("caps: give a number of jobs or no limit, not both")
        if not caps and max_concurrent_jobs is None and not no_max_jobs:
            raise ConfigError("caps: nothing to change (give a pool's cap or the jobs at once)")
        config = to_config(self.get(store_id)).model_dump()
        pool_caps = dict(config["pool_caps"])
        for pool, cap in (caps or {}).items():
            if cap is None:
                if pool not in POOL_NAMES:
                    names = ", ".join(POOL_NAMES)
                    raise ConfigError(f"store {store_id!r}: unknown pool {pool!r} (pools: {names})")
                pool_caps.pop(pool, None)
            else:
                pool_caps[pool] = cap
        config["pool_caps"] = pool_caps
        if max_concurrent_jobs is not None or no_max_jobs:
            config["max_concurrent_jobs"] = max_concurrent_jobs
        parsed = parse_store(config)
        return self._set(
            store_id,
            pool_caps=dict(parsed.pool_caps),
            max_concurrent_jobs=parsed.max_concurrent_jobs,
        )

    def add_task(
        self,
        store_id: str,
        *,
        name: str,
        cron: str,
        jobs: Sequence[str],
        catch_up_minutes: int | None = None,
    ) -> Store:
        """Add a recurring task, validated with the whole store (one line naming the field)."""
        config = to_config(self.get(store_id)).model_dump()
        task = {"name": name, "cron": cron, "jobs": builtins.list(jobs)}
        if catch_up_minutes is not None:
            task["catch_up_minutes"] = catch_up_minutes
        config["tasks"] = [*config["tasks"], task]
        parsed = parse_store(config)
        return self._set(store_id, tasks=[t.model_dump() for t in parsed.tasks])

    def remove_task(self, store_id: str, name: str) -> Store:
        tasks = builtins.list(self.get(store_id).tasks or [])
        kept = [t for t in tasks if t.get("name") != name]
        if len(kept) == len(tasks):
            raise RegistryError(f"store {store_id!r}: tasks: no task named {name!r}")
        return self._set(store_id, tasks=kept)

    def release(self, store_id: str) -> Store:
        """Out of quarantine, with a clean failure count."""
        return self._set(
            store_id, quarantined_at=None, quarantine_reason=None, consecutive_failures=0
        )

    # --- runs and outcomes -----------------------------------------------------------------

    def start_run(self, store_id: str, flow_run_id: str | None) -> int:
        with self._session() as session:
            if session.get(Store, store_id) is None:
                raise UnknownStoreError(store_id)
            run = StoreRun(
                store_id=store_id,
                flow_run_id=None if flow_run_id is None else str(flow_run_id),
                started_at=utcnow(),
                status="running",
            )
            session.add(run)
            session.commit()
            assert run.id is not None
            return run.id

    def finish_run(
        self,
        run_id: int,
        status: str,
        error: str | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> StoreRun:
        """Close a run and stamp the store's `last_run_at` with the finish time."""
        now = utcnow()
        with self._session() as session:
            run = session.get(StoreRun, run_id, with_for_update=True)
            if run is None:
                raise RegistryError(f"run_id: no store run {run_id}")
            run.finished_at = now
            run.status = status
            run.error = error
            run.metrics = dict(metrics or {})
            session.add(run)
            session.exec(update(Store).where(col(Store.id) == run.store_id).values(last_run_at=now))
            session.commit()
            return run

    def record_outcome(self, store_id: str, ok: bool, error: str | None, threshold: int) -> bool:
        """Count a run's outcome; True when this failure just put the store in quarantine.

        Success resets the count. The increment and the quarantine are atomic UPDATEs, so of
        many concurrent failures exactly one sees the store go into quarantine.
        """
        if threshold < 1:
            raise ValueError(f"threshold: must be at least 1, got {threshold}")
        with self._session() as session:
            if ok:
                result = session.exec(
                    update(Store).where(col(Store.id) == store_id).values(consecutive_failures=0)
                )
                if result.rowcount == 0:
                    raise UnknownStoreError(store_id)
                session.commit()
                return False
            failures = session.exec(
                update(Store)
                .where(col(Store.id) == store_id)
                .values(consecutive_failures=Store.consecutive_failures + 1)
                .returning(Store.consecutive_failures)
            ).scalar_one_or_none()
            if failures is None:
                raise UnknownStoreError(store_id)
            just_quarantined = False
            if failures >= threshold:
                reason = f"{failures} consecutive failures; last: {error or 'unknown error'}"
                result = session.exec(
                    update(Store)
                    .where(col(Store.id) == store_id, col(Store.quarantined_at).is_(None))
                    .values(quarantined_at=utcnow(), quarantine_reason=reason)
                )
                just_quarantined = result.rowcount == 1
            session.commit()
            return just_quarantined

    # --- import and export -----------------------------------------------------------------

    def export(self) -> builtins.list[StoreConfig]:
        """Every store as configuration (with its quarantine state), sorted by id."""
        return [to_config(store) for store in self.list()]

    def import_stores(
        self, configs: Sequence[StoreConfig], *, merge: bool = False, force: bool = False
    ) -> dict[str, builtins.list[str]]:
        """Apply validated stores in one transaction: all of them or none.

        With `merge`, stores not in `configs` stay. Without it they are removed, but stores with
        run history are kept (and nothing changes) unless `force`.
        Returns {"added": [...], "updated": [...], "removed": [...]}.
        """
        ids = [c.id for c in configs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise RegistryError(f"id: duplicate store id {dup!r} in the import")
        summary: dict[str, builtins.list[str]] = {"added": [], "updated": [], "removed": []}
        with self._session() as session:
            existing = {s.id: s for s in session.exec(select(Store).with_for_update()).all()}
            doomed = [] if merge else sorted(set(existing) - set(ids))
            if doomed and not force:
                with_runs = session.exec(
                    select(StoreRun.store_id).where(col(StoreRun.store_id).in_(doomed)).distinct()
                ).all()
                if with_runs:
                    raise RegistryError(
                        f"import: would remove stores with run history: "
                        f"{', '.join(sorted(with_runs))} (use --merge to keep them or --force)"
                    )
            for config in configs:
                store = existing.get(config.id)
                summary["updated" if store else "added"].append(config.id)
                store = store or Store()
                _apply(store, config)
                session.add(store)
            if doomed:
                session.exec(delete(StoreRun).where(col(StoreRun.store_id).in_(doomed)))
                session.exec(delete(Store).where(col(Store.id).in_(doomed)))
                summary["removed"] = doomed
            session.commit()
        return summary

    # --- internals -------------------------------------------------------------------------

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _set(self, store_id: str, **changes: Any) -> Store:
        with self._session() as session:
            store = session.get(Store, store_id, with_for_update=True)
            if store is None:
                raise UnknownStoreError(store_id)
            for key, value in changes.items():
                setattr(store, key, value)
            session.add(store)
            session.commit()
            return store

    def _add_env_stores(self) -> None:
        """STORE_IDS=a,b,c: add the ones missing, with defaults; once per process and URL."""
        raw = get_settings().store_ids
        if not raw.strip():
            return
        with _ENV_LOCK:
            if (self.url, raw) in _ENV_APPLIED:
                return
            for store_id in store_ids_from_env():
                with self._session() as session:
                    if session.get(Store, store_id) is not None:
                        continue
                # Another process may add it between our check and insert.
                with contextlib.suppress(DuplicateStoreError):
                    self.add_config(parse_store({"id": store_id}))
            _ENV_APPLIED.add((self.url, raw))


def _apply(store: Store, config: StoreConfig) -> None:
    start, end = config.window_bounds
    store.id = config.id
    store.name = config.name or config.id
    store.priority = config.priority
    store.enabled = config.enabled
    store.timezone = config.timezone
    store.window_start = start
    store.window_end = end
    store.jobs = builtins.list(config.jobs)
    store.dependencies = {k: builtins.list(v) for k, v in config.dependencies.items()}
    store.blocks = dict(config.blocks if config.blocks is not None else default_blocks(config.id))
    store.region = config.region
    store.tags = builtins.list(config.tags)
    store.tasks = [task.model_dump() for task in config.tasks]
    store.max_concurrent_jobs = config.max_concurrent_jobs
    store.pool_caps = dict(config.pool_caps)
    # State is only overwritten when the entry states it (an export does): re-importing a
    # hand-written file must not release quarantines or forget when stores last ran.
    for key in _STATE_FIELDS:
        if key in config.model_fields_set or getattr(store, key, None) is None:
            setattr(store, key, getattr(config, key))


_STATE_FIELDS = ("consecutive_failures", "quarantined_at", "quarantine_reason", "last_run_at")


def to_config(store: Store) -> StoreConfig:
    window = None if store.always_open else f"{store.window_start}-{store.window_end}"
    return StoreConfig(
        id=store.id,
        name=store.name,
        priority=Priority.parse(store.priority),
        enabled=store.enabled,
        timezone=store.timezone,
        window=window,
        jobs=builtins.list(store.jobs or []),
        dependencies={k: builtins.list(v) for k, v in (store.dependencies or {}).items()},
        blocks=dict(store.blocks or {}),
        region=store.region,
        tags=builtins.list(store.tags or []),
        tasks=builtins.list(store.tasks or []),
        max_concurrent_jobs=store.max_concurrent_jobs,
        pool_caps=dict(store.pool_caps or {}),
        consecutive_failures=store.consecutive_failures or 0,
        quarantined_at=store.quarantined_at,
        quarantine_reason=store.quarantine_reason,
        last_run_at=store.last_run_at,
    )
