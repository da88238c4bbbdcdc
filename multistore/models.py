"""The registry's tables: stores and their runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Text, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from multistore.config import DEFAULT_JOBS, DEFAULT_TIMEZONE, Priority


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which drops zones) too."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the registry")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _default_jobs() -> list[str]:
    return list(DEFAULT_JOBS)


class Store(SQLModel, table=True):
    """One tenant. Window bounds are "HH:MM" in `timezone`; both None means always open."""

    __tablename__ = "stores"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    priority: Priority = Field(
        default=Priority.MEDIUM,
        sa_column=Column(
            SAEnum(Priority, native_enum=False, length=8),
            nullable=False,
            default=Priority.MEDIUM,
        ),
    )
    enabled: bool = Field(default=True)
    timezone: str = Field(default=DEFAULT_TIMEZONE, max_length=64)
    window_start: str | None = Field(default=None, max_length=5)
    window_end: str | None = Field(default=None, max_length=5)
    jobs: list[str] = Field(
        default_factory=_default_jobs, sa_column=Column(JSON, default=_default_jobs)
    )
    dependencies: dict[str, list[str]] = Field(
        default_factory=dict, sa_column=Column(JSON, default=dict)
    )
    blocks: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
    region: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    # Recurring tasks (multistore.config.TaskConfig as dicts): name, cron, jobs, catch_up_minutes.
    tasks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    # The store's own caps (multistore.config.StoreConfig): jobs at once, slots per shared pool.
    max_concurrent_jobs: int | None = Field(default=None)
    pool_caps: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
    consecutive_failures: int = Field(default=0)
    quarantined_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    quarantine_reason: str | None = Field(default=None, sa_column=Column(Text))
    last_run_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The scheduler owes the store only the occurrences due from this instant on (when it was
    # added, or when an older registry was upgraded): nothing before it is reported missed.
    scheduled_since: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), default=utcnow)
    )

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None

    @property
    def always_open(self) -> bool:
        return self.window_start is None and self.window_end is None


class StoreRun(SQLModel, table=True):
    """One pipeline run of one store. `status` is "running" until `finish_run`."""

    __tablename__ = "store_runs"

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(index=True, max_length=64)
    flow_run_id: str | None = Field(default=None, max_length=64)
    started_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, default=utcnow)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    status: str = Field(default="running", max_length=32)
    error: str | None = Field(default=None, sa_column=Column(Text))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
