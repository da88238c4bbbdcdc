"""Store configuration from people: validation of one store, STORE_IDS, and import files.

Every error is one line naming the field (and, for a file, the entry's index), so a typo in a file
of a hundred stores is found without reading a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from multistore.crons import cadence, check_cron
from multistore.datafiles import ConfigError, dump, first_error, load
from multistore.jobgraph import DEFAULT_JOBS, GraphError, build_graph
from multistore.pools import POOL_NAMES
from multistore.settings import get_settings
from multistore.windows import parse_hhmm, parse_window, zone

STORE_ID = re.compile(r"^[a-z0-9-]{1,64}$")
JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")

DEFAULT_TIMEZONE = "UTC"
TASK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
# A recurring task is due this long after its cron instant, unless it says otherwise (or its
# cron fires more often: then until its next fire).
DEFAULT_CATCH_UP_MINUTES = 30

# Zone names the tz database keeps for old systems: EST, MST and HST are fixed offsets (no daylight
# saving, so a store in New York typed as EST runs an hour off all summer), the others POSIX rules.
# A store's zone is where it is: the IANA name of that place.
LEGACY_ZONES = {
    "EST": "America/New_York",
    "MST": "America/Denver (or America/Phoenix, which keeps standard time all year)",
    "HST": "Pacific/Honolulu",
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
}


class Priority(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"

    @property
    def rank(self) -> int:
        """0 runs first."""
        return _RANK[self]

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        """Case-insensitive: 'high', 'High' and 'HIGH' are all HIGH."""
        if isinstance(value, Priority):
            return value
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            raise ValueError(f"{value!r} is not a priority (high, medium or low)") from None


_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}


def default_blocks(store_id: str) -> dict[str, str]:
    """The block documents `multistore setup` creates for a store (role → document name)."""
    return {
        "crm": f"crm-{store_id}",
        "dnc": "dnc-default",
        "inventory": f"inventory-{store_id}",
        "shortener": "shortener-default",
    }


def validate_store_id(value: str) -> str:
    if not isinstance(value, str) or not STORE_ID.match(value):
        raise ValueError(
            f"{value!r} is not a store id (1–64 lowercase letters, digits and hyphens)"
        )
    return value


def validate_timezone(value: str) -> str:
    """A store zone: IANA; a legacy one (EST, PST8PDT…) is refused, naming the one to use."""
    zone(value)
    upper = value.strip().upper()
    if upper in LEGACY_ZONES:
        offset = datetime(2026, 7, 1, tzinfo=zone(value)).strftime("%z")
        kind = (
            f"a fixed offset (UTC{offset[:3]}:{offset[3:]} all year, no daylight saving)"
            if upper in ("EST", "MST", "HST")
            else "a legacy POSIX-style zone"
        )
        raise ValueError(f"{value!r} is {kind}; use the IANA name {LEGACY_ZONES[upper]}")
    return value


class TaskConfig(BaseModel):
    """A recurring per-store task: a cron on the store's wall clock and the jobs it runs.

    It is due from each cron instant for `catch_up_minutes` (default 30, or the cron's cadence
    when it fires more often); a catch-up longer than the cadence would overlap the next fire.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    cron: str
    jobs: list[str]
    catch_up_minutes: int | None = Field(default=None, ge=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TASK_NAME.match(value):
            raise ValueError(f"{value!r} is not a task name (lowercase letters, digits, _ and -)")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("jobs")
    @classmethod
    def _jobs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a task runs at least one job")
        try:
            build_graph(value)
        except GraphError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _catch_up(self) -> TaskConfig:
        every = int(cadence(self.cron).total_seconds() // 60)
        if self.catch_up_minutes is None:
            self.catch_up_minutes = min(DEFAULT_CATCH_UP_MINUTES, every)
        elif self.catch_up_minutes > every:
            raise ValueError(
                f"catch_up_minutes: {self.catch_up_minutes} is longer than the cron's cadence "
                f"({every} minutes between fires of {self.cron!r})"
            )
        return self


class StoreConfig(BaseModel):
    """One store as a person writes it (CLI flags, a YAML/JSON file, STORE_IDS).

    `window` is "HH:MM-HH:MM" or absent/None for always open. The state fields (failures,
    quarantine, last run) are only there so that export followed by import gives back the same
    registry; people normally leave them out.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str | None = None
    priority: Priority = Priority.MEDIUM
    enabled: bool = True
    timezone: str = DEFAULT_TIMEZONE
    window: str | None = None
    jobs: list[str] = Field(default_factory=lambda: list(DEFAULT_JOBS))
    dependencies: dict[str, list[str]] = Field(default_factory=dict)
    blocks: dict[str, str] | None = None
    region: str | None = None
    tags: list[str] = Field(default_factory=list)
    tasks: list[TaskConfig] = Field(default_factory=list)
    # The store's own caps (seed 001's maxConcurrentJobsPerDealer, seed 000's maxBrowsersPerStore):
    # at most `max_concurrent_jobs` of its jobs at once (None: as many as the graph allows), and
    # at most `pool_caps[pool]` slots of a shared pool held by it at once (absent: the pool's own
    # size is the only bound), e.g. {browser: 1, "api:dnc": 2}.
    max_concurrent_jobs: int | None = Field(default=None, ge=1)
    pool_caps: dict[str, int] = Field(default_factory=dict)
    consecutive_failures: int = Field(default=0, ge=0)
    quarantined_at: datetime | None = None
    quarantine_reason: str | None = None
    last_run_at: datetime | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return validate_store_id(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value.strip() if value is not None else None

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Priority:
        return Priority.parse(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "always")):
            return None
        start, end = parse_window(value)
        return f"{start}-{end}"

    @field_validator("jobs")
    @classmethod
    def _jobs(cls, value: list[str]) -> list[str]:
        for job in value:
            _check_job(job)
        if len(set(value)) != len(value):
            raise ValueError("lists a job twice")
        return value

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for job, upstream in value.items():
            _check_job(job)
            for dep in upstream:
                _check_job(dep)
        return value

    @field_validator("pool_caps")
    @classmethod
    def _pool_caps(cls, value: dict[str, int]) -> dict[str, int]:
        for pool, cap in value.items():
            if pool not in POOL_NAMES:
                raise ValueError(f"unknown pool {pool!r} (pools: {', '.join(POOL_NAMES)})")
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise ValueError(f"{pool}: a cap is a whole number of slots, at least 1")
        return value

    @field_validator("blocks")
    @classmethod
    def _blocks(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for role, name in (value or {}).items():
            if not BLOCK_NAME.match(name):
                raise ValueError(f"{role}: {name!r} is not a block document name")
        return value

    @field_validator("quarantined_at", "last_run_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _fill(self) -> StoreConfig:
        if self.name is None:
            self.name = self.id
        if self.blocks is None:
            self.blocks = default_blocks(self.id)
        # A graph that can never run (unknown job, a cycle, a dependency on a job turned off)
        # is refused when it is configured, not found out at every night's run.
        try:
            build_graph(self.jobs, self.dependencies)
        except GraphError as exc:
            raise ValueError(f"jobs: {exc}") from None
        names: set[str] = set()
        schedules: set[tuple[str, tuple[str, ...]]] = set()
        for index, task in enumerate(self.tasks):
            if task.name in names:
                raise ValueError(f"tasks.{index}.name: duplicate task {task.name!r}")
            if (task.cron, tuple(sorted(task.jobs))) in schedules:
                raise ValueError(
                    f"tasks.{index}: duplicate task (another runs {', '.join(task.jobs)} "
                    f"on {task.cron!r})"
                )
            names.add(task.name)
            schedules.add((task.cron, tuple(sorted(task.jobs))))
            try:
                build_graph(task.jobs, self.dependencies)
            except GraphError as exc:
                raise ValueError(f"tasks.{index}.jobs: {exc}") from None
        return self

    @property
    def window_bounds(self) -> tuple[str | None, str | None]:
        if self.window is None:
            return None, None
        start, end = self.window.split("-")
        return start, end


def _check_job(job: str) -> None:
    if not isinstance(job, str) or not JOB_NAME.match(job):
        raise ValueError(f"{job!r} is not a job name (lowercase letters, digits, underscores)")


def parse_store(data: Mapping[str, Any], *, where: str = "") -> StoreConfig:
    """Validate one store; the error names the field (prefixed with `where`, e.g. 'entry 3')."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'store'}: expected a mapping of fields, got {data!r}")
    try:
        return StoreConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, where, data)) from None


def _one_line(exc: ValidationError, where: str, data: Mapping[str, Any]) -> str:
    # A whole-store check (empty loc) names its own field in the message.
    store = data.get("id") if isinstance(data.get("id"), str) else None
    prefix = ", ".join(p for p in (where, f"store {store!r}" if store else "") if p)
    return f"{prefix + ': ' if prefix else ''}{first_error(exc)}"


def parse_window_option(value: str | None) -> tuple[str | None, str | None]:
    """A --window option: 'HH:MM-HH:MM', or 'always'/None for no window."""
    if value is None or value.strip().lower() in ("", "always"):
        return None, None
    try:
        return parse_window(value)
    except ValueError as exc:
        raise ConfigError(f"window: {exc}") from None


def parse_time_option(value: str, field: str) -> str:
    try:
        return f"{parse_hhmm(value):%H:%M}"
    except ValueError as exc:
        raise ConfigError(f"{field}: {exc}") from None


def store_ids_from_env(raw: str | None = None) -> list[str]:
    """STORE_IDS=a,b,c → ['a', 'b', 'c']; a bad id is one error naming it."""
    raw = get_settings().store_ids if raw is None else raw
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    for index, store_id in enumerate(ids):
        if not STORE_ID.match(store_id):
            raise ConfigError(
                f"STORE_IDS entry {index + 1}: {store_id!r} is not a store id "
                "(1–64 lowercase letters, digits and hyphens)"
            )
    return list(dict.fromkeys(ids))


def load_store_file(path: Path) -> list[StoreConfig]:
    """A YAML or JSON file of stores: a list, or a mapping with a `stores` list.

    All entries are validated before anything is returned (an import is all-or-nothing), and ids
    must be unique in the file.
    """
    return parse_store_list(load(path), source=str(path))


def parse_store_list(raw: Any, *, source: str = "stores") -> list[StoreConfig]:
    if isinstance(raw, Mapping):
        if set(raw) - {"stores"}:
            extra = sorted(set(raw) - {"stores"})[0]
            raise ConfigError(f"{source}: unknown top-level key {extra!r} (expected 'stores')")
        raw = raw.get("stores")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: expected a list of stores (or a mapping with 'stores')")
    stores: list[StoreConfig] = []
    seen: dict[str, int] = {}
    # Entries are counted as a person counts them: the first is entry 1.
    for index, entry in enumerate(raw, start=1):
        store = parse_store(entry, where=f"{source}: entry {index}")
        if store.id in seen:
            raise ConfigError(
                f"{source}: entry {index}: id: duplicate store id {store.id!r} "
                f"(also entry {seen[store.id]})"
            )
        seen[store.id] = index
        stores.append(store)
    return stores


def dump_store_file(stores: list[StoreConfig], path: Path) -> None:
    """Write stores as YAML (or JSON for a .json path) that `load_store_file` reads back."""
    entries = [s.model_dump(mode="json", exclude_defaults=False) for s in stores]
    for entry in entries:
        for key in ("quarantined_at", "quarantine_reason", "last_run_at"):
            if entry.get(key) is None:
                entry.pop(key, None)
        if entry.get("consecutive_failures") == 0:
            entry.pop("consecutive_failures")
        if not entry.get("tasks"):
            entry.pop("tasks", None)
        if entry.get("max_concurrent_jobs") is None:
            entry.pop("max_concurrent_jobs", None)
        if not entry.get("pool_caps"):
            entry.pop("pool_caps", None)
    dump({"stores": entries}, path)
