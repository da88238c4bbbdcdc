"""Stock held for orders, so that what the channels are given never includes it.

``available = on hand − reserved``. A reservation is *held* until its expiry, *confirmed* when the
order is placed (held until released: the inventory system takes the sale off on hand, then the
order system releases it), *released* when cancelled or done, or *expired* when its hold lapses.

The invariant ``reserved ≤ on hand`` is kept by the database, not by a read-then-write: a
reservation is one conditional
``UPDATE … SET reserved = reserved + q WHERE on_hand − reserved ≥ q``, so two order systems
reserving the last unit at the same moment get one yes and one no, on SQLite and PostgreSQL alike.
Reserving again for the same order and SKU returns the first reservation (nothing is reserved
twice). Time comes from an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from multistore.channels.tables import ChannelStock, Reservation
from multistore.db import get_engine
from multistore.models import utcnow

HELD, CONFIRMED, RELEASED, EXPIRED = "held", "confirmed", "released", "expired"
DEFAULT_HOLD = timedelta(minutes=15)


class ReservationError(ValueError):
    """A reservation refused or not found; one line."""


@dataclass(frozen=True)
class Hold:
    id: int
    store_id: str
    sku: str
    order_id: str
    quantity: int
    status: str
    expires_at: datetime | None


def _hold(row: Reservation) -> Hold:
    assert row.id is not None
    return Hold(
        row.id, row.store_id, row.sku, row.order_id, row.quantity, row.status, row.expires_at
    )


class Reservations:
    """Stock and reservations of the registry at `url`, with `clock` for now."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = get_engine(url)
        self.clock = clock

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- on hand ----------------------------------------------------------------------------

    def set_on_hand(self, store_id: str, on_hand: Mapping[str, int]) -> None:
        """Record what the inventory system says is on hand (reservations are kept)."""
        now = self.clock()
        with self._session() as session:
            existing = {
                row.sku: row
                for row in session.exec(
                    select(ChannelStock).where(ChannelStock.store_id == store_id)
                )
            }
            for sku, units in on_hand.items():
                row = existing.get(sku)
                if row is None:
                    session.add(
                        ChannelStock(store_id=store_id, sku=sku, on_hand=int(units), updated_at=now)
                    )
                elif row.on_hand != int(units):
                    row.on_hand, row.updated_at = int(units), now
            session.commit()

    def stock(self, store_id: str) -> pd.DataFrame:
        """``on_hand, reserved`` by SKU (expired holds released first): the allocation's input."""
        self.expire(store_id)
        with self._session() as session:
            rows = session.exec(select(ChannelStock).where(ChannelStock.store_id == store_id)).all()
        frame = pd.DataFrame(
            [(r.sku, r.on_hand, r.reserved) for r in rows], columns=["sku", "on_hand", "reserved"]
        )
        return frame.set_index("sku").astype("int64")

    # --- the lifecycle ----------------------------------------------------------------------

    def reserve(
        self,
        store_id: str,
        sku: str,
        quantity: int,
        order_id: str,
        *,
        hold: timedelta = DEFAULT_HOLD,
    ) -> Hold:
        """Hold `quantity` units of `sku` for `order_id`, or refuse with ReservationError."""
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ReservationError(f"quantity: must be a whole number > 0, got {quantity!r}")
        self.expire(store_id)
        existing = self._find(store_id, order_id, sku)
        if existing is not None:
            return existing
        now = self.clock()
        with self._session() as session:
            taken = session.execute(
                update(ChannelStock)
                .where(
                    col(ChannelStock.store_id) == store_id,
                    col(ChannelStock.sku) == sku,
                    col(ChannelStock.on_hand) - col(ChannelStock.reserved) >= quantity,
                )
                .values(reserved=col(ChannelStock.reserved) + quantity)
            )
            if taken.rowcount != 1:
                session.rollback()
                raise ReservationError(
                    f"store {store_id}: cannot reserve {quantity} of {sku!r}: "
                    f"{self._available(store_id, sku)} available"
                )
            row = Reservation(
                store_id=store_id,
                sku=sku,
                order_id=order_id,
                quantity=quantity,
                created_at=now,
                updated_at=now,
                expires_at=now + hold,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # the same order reserved at the same moment elsewhere
                session.rollback()
                found = self._find(store_id, order_id, sku)
                assert found is not None
                return found
            return _hold(row)

    def confirm(self, reservation_id: int) -> Hold:
        """The order is placed: the hold no longer expires."""
        return self._move(reservation_id, {HELD}, CONFIRMED, release=False)

    def release(self, reservation_id: int) -> Hold:
        """Cancelled, or the inventory system has the sale: the units are free again."""
        return self._move(reservation_id, {HELD, CONFIRMED}, RELEASED, release=True)

    def expire(self, store_id: str) -> int:
        """Release every hold past its expiry; returns how many."""
        now = self.clock()
        with self._session() as session:
            due = session.exec(
                select(Reservation.id).where(
                    Reservation.store_id == store_id,
                    Reservation.status == HELD,
                    col(Reservation.expires_at) <= now,
                )
            ).all()
        return sum(1 for rid in due if self._try_move(rid, {HELD}, EXPIRED, release=True))

    def get(self, reservation_id: int) -> Hold:
        with self._session() as session:
            row = session.get(Reservation, reservation_id)
        if row is None:
            raise ReservationError(f"reservation {reservation_id}: not found")
        return _hold(row)

    # --- internals --------------------------------------------------------------------------

    def _move(self, rid: int, from_: set[str], to: str, *, release: bool) -> Hold:
        current = self.get(rid)
        if current.store_id:
            self.expire(current.store_id)
        if not self._try_move(rid, from_, to, release=release):
            now = self.get(rid)
            raise ReservationError(f"reservation {rid}: is {now.status}, cannot become {to}")
        return self.get(rid)

    def _try_move(self, rid: int | None, from_: set[str], to: str, *, release: bool) -> bool:
        """One conditional status change (and the units back, when released): a reservation
        released by two callers at once frees its units once."""
        with self._session() as session:
            moved = session.execute(
                update(Reservation)
                .where(col(Reservation.id) == rid, col(Reservation.status).in_(from_))
                .values(status=to, updated_at=self.clock())
            )
            if moved.rowcount != 1:
                session.rollback()
                return False
            if release:
                row = session.get(Reservation, rid)
                assert row is not None
                session.execute(
                    update(ChannelStock)
                    .where(
                        col(ChannelStock.store_id) == row.store_id,
                        col(ChannelStock.sku) == row.sku,
                    )
                    .values(reserved=col(ChannelStock.reserved) - row.quantity)
                )
            session.commit()
            return True

    def _find(self, store_id: str, order_id: str, sku: str) -> Hold | None:
        with self._session() as session:
            row = session.exec(
                select(Reservation).where(
                    Reservation.store_id == store_id,
                    Reservation.order_id == order_id,
                    Reservation.sku == sku,
                )
            ).first()
        return None if row is None else _hold(row)

    def _available(self, store_id: str, sku: str) -> int:
        with self._session() as session:
            row = session.get(ChannelStock, (store_id, sku))
        return 0 if row is None else max(row.on_hand - row.reserved, 0)
