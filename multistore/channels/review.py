"""Conflicts in the registry: recorded once, settled by the store's policy or queued for a person,
and every settlement written down with who or what decided.

A conflict already open or queued for the same (store, kind, SKU, channel) is updated, not added
again, so a sync that finds it every hour leaves one row. ``settle`` applies the policy to every
open conflict at once (the strategies of `conflicts.resolve`); those whose strategy is ``manual``
become *queued*: `multistore conflicts list` shows them, `multistore conflicts resolve` settles them
as ``user:<name>``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from multistore.channels.conflicts import ConflictPolicy, Resolution, reliability, resolve
from multistore.channels.tables import ChannelSyncRecord, Conflict, ConflictResolution
from multistore.db import get_engine
from multistore.models import utcnow

OPEN, QUEUED, RESOLVED = "open", "queued", "resolved"
# How many recent syncs per source make its reliability.
RELIABILITY_WINDOW = 50


class ConflictNotFound(LookupError):
    def __str__(self) -> str:
        return f"conflict {self.args[0]}: not found or already resolved"


class ConflictBook:
    """The conflicts of the registry at `url`."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = get_engine(url)
        self.clock = clock

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def record(self, store_id: str, found: pd.DataFrame) -> int:
        """Store `found` (conflicts.detect's frame); returns how many were new."""
        now, new = self.clock(), 0
        with self._session() as session:
            pending = {
                (c.kind, c.sku, c.channel): c
                for c in session.exec(
                    select(Conflict).where(
                        Conflict.store_id == store_id, col(Conflict.status).in_((OPEN, QUEUED))
                    )
                )
            }
            for row in found.itertuples(index=False):
                key = (row.kind, str(row.sku), str(row.channel))
                conflict = pending.get(key)
                if conflict is None:
                    conflict = Conflict(
                        store_id=store_id, kind=row.kind, sku=key[1], channel=key[2]
                    )
                    pending[key] = conflict
                    new += 1
                conflict.expected = _number(row.expected)
                conflict.observed = _number(row.observed)
                conflict.detail = row.detail
                conflict.detected_at = now
                session.add(conflict)
            session.commit()
        return new

    def settle(
        self,
        store_id: str,
        policy: ConflictPolicy,
        *,
        weights: Mapping[str, float] | None = None,
    ) -> dict[str, int]:
        """Apply the policy to every open conflict; returns counts resolved and queued.

        The candidates of a conflict are the store's value (source ``inventory``, decided when
        the store last allocated) and the channel's (source = the channel, at detection time).
        """
        with self._session() as session:
            open_ = session.exec(
                select(Conflict).where(Conflict.store_id == store_id, Conflict.status == OPEN)
            ).all()
            counts = {"resolved": 0, "queued": 0}
            by_strategy: dict[Resolution, list[Conflict]] = {}
            for c in open_:
                by_strategy.setdefault(policy.strategy(c.kind), []).append(c)
            now = self.clock()
            for strategy, conflicts in by_strategy.items():
                values = self._values(conflicts, strategy, policy, weights)
                for c in conflicts:
                    value = values.get(c.id, np.nan)
                    no_number = c.expected is None and c.observed is None
                    if strategy is not Resolution.MANUAL and no_number:
                        # A title has no number to settle: the store's own wins, on record.
                        c.status = RESOLVED
                        counts["resolved"] += 1
                        session.add(
                            ConflictResolution(
                                conflict_id=c.id,
                                strategy=strategy.value,
                                decided_by=f"policy:{strategy.value}",
                                decided_at=now,
                                note="the store's value is kept and pushed again",
                            )
                        )
                    elif strategy is Resolution.MANUAL or value != value:
                        c.status = QUEUED
                        counts["queued"] += 1
                    else:
                        c.status = RESOLVED
                        counts["resolved"] += 1
                        session.add(
                            ConflictResolution(
                                conflict_id=c.id,
                                strategy=strategy.value,
                                value=float(value),
                                decided_by=f"policy:{strategy.value}",
                                decided_at=now,
                            )
                        )
                    session.add(c)
            session.commit()
        return counts

    @staticmethod
    def _values(
        conflicts: builtins.list[Conflict],
        strategy: Resolution,
        policy: ConflictPolicy,
        weights: Mapping[str, float] | None,
    ) -> dict[int | None, float]:
        rows = []
        for c in conflicts:
            if c.expected is not None:
                rows.append((c.id, "inventory", c.expected, c.detected_at))
            if c.observed is not None:
                # The channel's claim is the newer one: it reported after we allocated.
                rows.append((c.id, c.channel, c.observed, c.detected_at))
        if not rows:
            return {}
        candidates = pd.DataFrame(rows, columns=["conflict", "source", "value", "updated_at"])
        candidates["updated_at"] = candidates.groupby("conflict").cumcount()
        values = resolve(
            candidates,
            strategy,
            sources=(*policy.sources, *sorted({c.channel for c in conflicts})),
            weights=pd.Series(weights or {}, dtype=np.float64),
        )
        return values.to_dict()

    def record_syncs(self, store_id: str, clean: Mapping[str, bool]) -> None:
        """One row per channel synced: whether it left no conflict."""
        now = self.clock()
        with self._session() as session:
            for channel, ok in clean.items():
                session.add(
                    ChannelSyncRecord(store_id=store_id, channel=channel, clean=ok, synced_at=now)
                )
            session.commit()

    def reliability(self, store_id: str) -> dict[str, float]:
        """Each channel's ``(clean syncs + 1) / (syncs + 2)`` over its last RELIABILITY_WINDOW
        syncs; the store's inventory system is the reference (always clean)."""
        with self._session() as session:
            rows = session.exec(
                select(ChannelSyncRecord.channel, ChannelSyncRecord.clean)
                .where(ChannelSyncRecord.store_id == store_id)
                .order_by(col(ChannelSyncRecord.id).desc())
            ).all()
        history = pd.DataFrame(rows, columns=["source", "clean"])
        history = history.groupby("source", sort=False).head(RELIABILITY_WINDOW)
        weights = reliability(history).to_dict()
        return {"inventory": 1.0, **weights}

    def list(self, store_id: str | None = None, *, status: str | None = QUEUED) -> list[Conflict]:
        query = select(Conflict).order_by(col(Conflict.id))
        if store_id is not None:
            query = query.where(Conflict.store_id == store_id)
        if status is not None:
            query = query.where(Conflict.status == status)
        with self._session() as session:
            return builtins.list(session.exec(query).all())

    def resolve_by_hand(
        self, conflict_id: int, *, value: float | None, who: str, note: str | None = None
    ) -> ConflictResolution:
        """Settle a queued (or open) conflict as a person decided."""
        with self._session() as session:
            conflict = session.get(Conflict, conflict_id)
            if conflict is None or conflict.status == RESOLVED:
                raise ConflictNotFound(conflict_id)
            conflict.status = RESOLVED
            decision = ConflictResolution(
                conflict_id=conflict_id,
                strategy=Resolution.MANUAL.value,
                value=value,
                decided_by=f"user:{who}",
                decided_at=self.clock(),
                note=note,
            )
            session.add(conflict)
            session.add(decision)
            session.commit()
            return decision

    def resolutions(self, conflict_id: int) -> list[ConflictResolution]:
        with self._session() as session:
            return builtins.list(
                session.exec(
                    select(ConflictResolution).where(ConflictResolution.conflict_id == conflict_id)
                ).all()
            )


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number
