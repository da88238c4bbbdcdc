"""Reservations on both registry databases: the lifecycle with an injected clock, expiry,
idempotence per order, and never more reserved than on hand under concurrent order systems."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from multistore.channels.reservations import ReservationError, Reservations


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(registry_url: str, clock: Clock) -> Reservations:
    book = Reservations(registry_url, clock=clock)
    book.set_on_hand("s1", {"A": 5, "B": 1})
    return book


def _available(book: Reservations, sku: str) -> int:
    row = book.stock("s1").loc[sku]
    return int(row["on_hand"] - row["reserved"])


def test_reserve_confirm_release(book: Reservations) -> None:
    hold = book.reserve("s1", "A", 3, "order-1")
    assert hold.status == "held" and _available(book, "A") == 2
    assert book.confirm(hold.id).status == "confirmed"
    assert _available(book, "A") == 2
    assert book.release(hold.id).status == "released"
    assert _available(book, "A") == 5
    with pytest.raises(ReservationError, match="is released, cannot become released"):
        book.release(hold.id)
    assert _available(book, "A") == 5  # a second release frees nothing


def test_a_hold_expires_on_the_clock_but_a_confirmed_one_does_not(
    book: Reservations, clock: Clock
) -> None:
    held = book.reserve("s1", "A", 2, "order-1", hold=timedelta(minutes=10))
    kept = book.reserve("s1", "A", 2, "order-2", hold=timedelta(minutes=10))
    book.confirm(kept.id)
    clock.now += timedelta(minutes=9)
    assert _available(book, "A") == 1
    clock.now += timedelta(minutes=1)
    assert _available(book, "A") == 3
    assert book.get(held.id).status == "expired"
    with pytest.raises(ReservationError, match="is expired, cannot become confirmed"):
        book.confirm(held.id)


def test_refused_beyond_available_and_the_same_order_is_reserved_once(
    book: Reservations,
) -> None:
    first = book.reserve("s1", "B", 1, "order-9")
    assert book.reserve("s1", "B", 1, "order-9") == first
    with pytest.raises(ReservationError, match="cannot reserve 1 of 'B': 0 available"):
        book.reserve("s1", "B", 1, "order-10")
    with pytest.raises(ReservationError, match="quantity: must be a whole number > 0"):
        book.reserve("s1", "A", 0, "order-11")
    with pytest.raises(ReservationError, match="cannot reserve 1 of 'ZZ'"):
        book.reserve("s1", "ZZ", 1, "order-12")


def test_on_hand_updates_keep_reservations(book: Reservations) -> None:
    book.reserve("s1", "A", 4, "order-1")
    book.set_on_hand("s1", {"A": 6})
    assert book.stock("s1").loc["A"].tolist() == [6, 4]


def test_concurrent_order_systems_never_reserve_more_than_on_hand(
    book: Reservations, registry_url: str, clock: Clock
) -> None:
    def one(i: int) -> bool:
        try:
            Reservations(registry_url, clock=clock).reserve("s1", "A", 1, f"order-{i}")
        except ReservationError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        granted = sum(pool.map(one, range(24)))
    assert granted == 5
    assert book.stock("s1").loc["A"].tolist() == [5, 5]
