"""Which channels a store sells on, and its allocation and conflict policy, in the registry."""

from __future__ import annotations

import builtins
from typing import Any

from sqlmodel import Session, col, select

from multistore.channels.allocation import AllocationError, Channel, Policy, Rule, Strategy
from multistore.channels.conflicts import ConflictPolicy
from multistore.channels.connectors import CLIENTS
from multistore.channels.tables import ChannelPolicyRow, StoreChannel
from multistore.db import get_engine
from multistore.registry import Registry

CHANNEL_TYPES = ("shopify", "square", "ebay", "amazon", "custom")


class ChannelConfigError(ValueError):
    """Bad channel settings; one line naming the field."""


class StoreChannels:
    """The channel settings of the registry at `url`."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.engine = get_engine(url)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def connect(self, store_id: str, name: str, type_: str, **settings: Any) -> StoreChannel:
        """Connect (or reconfigure) channel `name` of `store_id`; the block defaults to
        ``<type>-<store>``."""
        Registry(self.url, from_env=False).get(store_id)  # an unknown store is one line
        if type_ not in CHANNEL_TYPES:
            raise ChannelConfigError(
                f"channel {name}: unknown type {type_!r} (one of {', '.join(CHANNEL_TYPES)})"
            )
        block = settings.pop("block", None) or f"{type_}-{store_id}"
        values = {k: v for k, v in settings.items() if v is not None}
        try:  # the same checks as the allocation engine, before anything is stored
            Channel(name, **{k: v for k, v in values.items() if k != "enabled"})
        except (AllocationError, TypeError) as exc:
            raise ChannelConfigError(str(exc)) from None
        with self._session() as session:
            row = session.get(StoreChannel, (store_id, name)) or StoreChannel(
                store_id=store_id, name=name, type=type_, block=block
            )
            row.type, row.block = type_, block
            for key, value in values.items():
                setattr(row, key, value)
            session.add(row)
            session.commit()
            return row

    def disconnect(self, store_id: str, name: str) -> None:
        with self._session() as session:
            row = session.get(StoreChannel, (store_id, name))
            if row is None:
                raise ChannelConfigError(f"store {store_id}: no channel {name!r}")
            session.delete(row)
            session.commit()

    def list(self, store_id: str | None = None) -> builtins.list[StoreChannel]:
        query = select(StoreChannel).order_by(col(StoreChannel.store_id), col(StoreChannel.name))
        if store_id is not None:
            query = query.where(StoreChannel.store_id == store_id)
        with self._session() as session:
            return builtins.list(session.exec(query).all())

    def set_policy(self, store_id: str, **fields: Any) -> ChannelPolicyRow:
        Registry(self.url, from_env=False).get(store_id)
        with self._session() as session:
            row = session.get(ChannelPolicyRow, store_id) or ChannelPolicyRow(store_id=store_id)
            for key, value in fields.items():
                if value is not None:
                    setattr(row, key, value)
            self._check(row)
            session.add(row)
            session.commit()
            return row

    def _check(self, row: ChannelPolicyRow) -> None:
        try:
            Strategy.parse(row.strategy)
            ConflictPolicy.from_mapping(row.conflicts or {})
            for rule in row.rules or []:
                Rule(**rule)
        except (AllocationError, TypeError, ValueError) as exc:
            raise ChannelConfigError(f"policy: {exc}") from None

    def policy(self, store_id: str) -> tuple[Policy, ConflictPolicy]:
        """The store's allocation policy over its enabled channels, and its conflict policy."""
        channels = [c for c in self.list(store_id)]
        if not channels:
            raise ChannelConfigError(f"store {store_id}: no channel connected")
        with self._session() as session:
            row = session.get(ChannelPolicyRow, store_id) or ChannelPolicyRow(store_id=store_id)
        allocation = Policy.from_mapping(
            {
                "channels": [
                    {
                        "name": c.name,
                        "priority": c.priority,
                        "weight": c.weight,
                        "min_units": c.min_units,
                        "max_units": c.max_units,
                        "enabled": c.enabled,
                        "safety_units": safety_units(c),
                    }
                    for c in channels
                ],
                "strategy": row.strategy,
                "buffer_units": row.buffer_units,
                "buffer_percent": row.buffer_percent,
                "rules": row.rules or [],
            }
        )
        return allocation, ConflictPolicy.from_mapping(row.conflicts or {})


def safety_units(channel: StoreChannel) -> int:
    """The units held back from the channel per product: its own setting, else its type's
    default (1 or 2 for the channels that accept only absolute writes, 0 for the others)."""
    if channel.safety_units is not None:
        return channel.safety_units
    return CLIENTS[channel.type].default_safety_units
