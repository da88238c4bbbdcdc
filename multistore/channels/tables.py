"""The registry's channel tables: stock and reservations, conflicts and their resolutions,
webhook deliveries. Added to the registry by `multistore.db._import_models`; new columns follow
the additive rules of docs/registry.md (nullable or with a default)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from multistore.models import UTCDateTime, utcnow


class ChannelStock(SQLModel, table=True):
    """On hand per product as the store's inventory system last said, and what is reserved."""

    __tablename__ = "channel_stock"

    store_id: str = Field(primary_key=True, max_length=64)
    sku: str = Field(primary_key=True, max_length=128)
    on_hand: int = 0
    reserved: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class Reservation(SQLModel, table=True):
    """Units held for an order: held (until expires_at) → confirmed → released (or expired)."""

    __tablename__ = "channel_reservations"
    __table_args__ = (UniqueConstraint("store_id", "order_id", "sku"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    sku: str = Field(max_length=128)
    order_id: str = Field(max_length=128)
    quantity: int
    status: str = Field(default="held", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class Conflict(SQLModel, table=True):
    """One detected conflict: open (to settle by policy), queued (for a person), resolved."""

    __tablename__ = "channel_conflicts"

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)
    sku: str = Field(max_length=128)
    channel: str = Field(max_length=64)
    expected: float | None = None
    observed: float | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="open", max_length=16)
    detected_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class ConflictResolution(SQLModel, table=True):
    """How a conflict was settled and who or what decided: ``policy:<strategy>`` or
    ``user:<name>``."""

    __tablename__ = "channel_conflict_resolutions"

    id: int | None = Field(default=None, primary_key=True)
    conflict_id: int = Field(foreign_key="channel_conflicts.id", index=True)
    strategy: str = Field(max_length=32)
    value: float | None = None
    decided_by: str = Field(max_length=128)
    decided_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    note: str | None = Field(default=None, sa_column=Column(Text))


class WebhookDelivery(SQLModel, table=True):
    """A verified webhook, stored once per (channel, delivery id) before it is acknowledged."""

    __tablename__ = "channel_webhooks"
    __table_args__ = (UniqueConstraint("store_id", "channel", "delivery_id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=64)
    delivery_id: str = Field(max_length=200)
    topic: str | None = Field(default=None, max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    synced_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class StoreChannel(SQLModel, table=True):
    """A sales channel connected to a store: its type, the block with its credentials (a name,
    never a secret) and its allocation settings."""

    __tablename__ = "store_channels"

    store_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=32)
    block: str = Field(max_length=200)
    priority: int = 1
    weight: float = 1.0
    min_units: int = 0
    max_units: int | None = None
    enabled: bool = True
    # Units held back from the channel per product (None: its type's default,
    # ChannelClient.default_safety_units).
    safety_units: int | None = None
    connected_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class ChannelPolicyRow(SQLModel, table=True):
    """A store's allocation strategy, buffer, custom rules and conflict policy."""

    __tablename__ = "store_channel_policies"

    store_id: str = Field(primary_key=True, max_length=64)
    strategy: str = Field(default="equal", max_length=32)
    buffer_units: int = 0
    buffer_percent: float = 0.0
    rules: list = Field(default_factory=list, sa_column=Column(JSON, default=list))
    conflicts: dict = Field(default_factory=dict, sa_column=Column(JSON, default=dict))


class ChannelSyncRecord(SQLModel, table=True):
    """One channel's sync: clean when it left no conflict (the reliability the weighted rule
    uses)."""

    __tablename__ = "channel_sync_records"

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=64)
    clean: bool = True
    synced_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class ChannelLevel(SQLModel, table=True):
    """What a sync left a channel showing per SKU: the next sync reads the channel again, and a
    drop it did not write is what the channel sold meanwhile (multistore.channels.history)."""

    __tablename__ = "channel_levels"

    store_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=64)
    sku: str = Field(primary_key=True, max_length=128)
    quantity: int = 0


class ChannelSale(SQLModel, table=True):
    """Units a channel sold of a SKU between two syncs (the sales history the performance and
    demand strategies weigh)."""

    __tablename__ = "channel_sales"

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=64)
    sku: str = Field(max_length=128)
    units: int
    observed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
