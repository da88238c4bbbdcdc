"""The network's registry tables, beside the stores (multistore.models) in the same database.

No database-level foreign keys to `stores`: a store removed with `multistore remove` leaves its
node row behind, and every query joins on `stores`, so a removed store simply drops out (the
heartbeat pass, nearest-store lookups) without the core registry knowing these tables exist.
Columns added later must be nullable or have a default (docs/registry.md, additive upgrades).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from multistore.models import UTCDateTime, utcnow


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(UTCDateTime(), index=index))
    return Field(
        default_factory=utcnow,
        sa_column=Column(UTCDateTime(), nullable=False, default=utcnow, index=index),
    )


class Region(SQLModel, table=True):
    """A geographic scope: every store within `radius_km` of the centre belongs to it."""

    __tablename__ = "regions"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    lat: float
    lon: float
    radius_km: float


class SupplyHub(SQLModel, table=True):
    """A region's supply hub (one per region): where it is, what it delivers, its stock."""

    __tablename__ = "supply_hubs"
    __table_args__ = (UniqueConstraint("region_id", name="uq_supply_hubs_region"),)

    id: str = Field(primary_key=True, max_length=64)
    region_id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    address: str = Field(default="", sa_column=Column(Text, default=""))
    lat: float
    lon: float
    api_url: str | None = Field(default=None, max_length=500)
    capabilities: list[str] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    contacts: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
    # SKU → units on hand at the hub; approvals draw from it.
    stock: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
    max_units_per_request: int = Field(default=500)
    max_stops_per_delivery: int = Field(default=8)


class StoreNode(SQLModel, table=True):
    """A store as a node of the network: where it is, its API, its hours and flags."""

    __tablename__ = "store_nodes"
    __table_args__ = (Index("ix_store_nodes_lat_lon", "lat", "lon"),)

    store_id: str = Field(primary_key=True, max_length=64)
    store_number: int = Field(sa_column_kwargs={"unique": True})
    lat: float
    lon: float
    region_id: str = Field(index=True, max_length=64)
    api_url: str | None = Field(default=None, max_length=500)
    # {"mon": "08:00-20:00", ...}; free-form per day.
    hours: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, default=list))


class NodeHealth(SQLModel, table=True):
    """What the heartbeats saw of one store node. `reachable` starts True (no news is no alarm)."""

    __tablename__ = "node_health"

    store_id: str = Field(primary_key=True, max_length=64)
    reachable: bool = Field(default=True, index=True)
    first_checked_at: datetime | None = _when()
    last_checked_at: datetime | None = _when()
    last_seen_at: datetime | None = _when()
    latency_ms: float | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    changed_at: datetime | None = _when()
    machine_status: str | None = Field(default=None, max_length=32)


class SupplyRequest(SQLModel, table=True):
    """A store asks its region's hub for items. `key` makes a resubmission a no-op."""

    __tablename__ = "supply_requests"
    __table_args__ = (Index("ix_supply_requests_status_urgency", "status", "urgency"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128, sa_column_kwargs={"unique": True})
    store_id: str = Field(index=True, max_length=64)
    hub_id: str = Field(index=True, max_length=64)
    items: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, default=dict))
    urgency: str = Field(default="normal", max_length=16)
    status: str = Field(default="submitted", max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = _when(index=True)
    delivery_id: int | None = Field(default=None, index=True)
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)


class SupplyDelivery(SQLModel, table=True):
    """One hub route: stops are store ids in driving order, starting and ending at the hub."""

    __tablename__ = "supply_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    hub_id: str = Field(index=True, max_length=64)
    stops: list[str] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    request_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    distance_km: float = 0.0
    confirmed_stops: list[str] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    status: str = Field(default="scheduled", max_length=16, index=True)
    scheduled_for: datetime | None = _when(index=True)
    confirmed_at: datetime | None = _when()
    created_at: datetime = _when(nullable=False)


class SupplyAudit(SQLModel, table=True):
    """One row per step of a request or delivery (who, what, when): the audit trail."""

    __tablename__ = "supply_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(nullable=False, index=True)
    request_id: int | None = Field(default=None, index=True)
    delivery_id: int | None = Field(default=None, index=True)
    step: str = Field(max_length=32)
    detail: str = Field(default="", sa_column=Column(Text, default=""))


class Machine(SQLModel, table=True):
    """A store's machine (one per store)."""

    __tablename__ = "machines"

    id: str = Field(primary_key=True, max_length=64)
    store_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    model: str = Field(default="", max_length=200)
    serial: str = Field(default="", max_length=200)
    status: str = Field(default="unknown", max_length=32)
    status_at: datetime | None = _when()
    installed_at: datetime | None = _when()


class MachineStatusChange(SQLModel, table=True):
    """The machine's status history (one row per change): uptime is computed from it."""

    __tablename__ = "machine_status_changes"
    __table_args__ = (Index("ix_machine_status_changes_machine_at", "machine_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    machine_id: str = Field(max_length=64)
    at: datetime = _when(nullable=False)
    status: str = Field(max_length=32)


class MaintenanceLog(SQLModel, table=True):
    __tablename__ = "maintenance_logs"
    __table_args__ = (Index("ix_maintenance_logs_machine_at", "machine_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    machine_id: str = Field(max_length=64)
    at: datetime = _when(nullable=False)
    kind: str = Field(default="service", max_length=32)
    notes: str = Field(default="", sa_column=Column(Text, default=""))
    parts: list[str] = Field(default_factory=list, sa_column=Column(JSON, default=list))
    technician: str = Field(default="", max_length=200)


class RepairSchedule(SQLModel, table=True):
    __tablename__ = "repair_schedules"
    __table_args__ = (Index("ix_repair_schedules_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    machine_id: str = Field(index=True, max_length=64)
    due_at: datetime = _when(nullable=False, index=True)
    status: str = Field(default="scheduled", max_length=16)
    notes: str = Field(default="", sa_column=Column(Text, default=""))
