"""Supply requests and deliveries: a store asks, its region's hub decides, a route delivers.

The rules (docs/network.md):
1. a request names SKUs and whole positive units, and an urgency (low, normal, high, critical);
   it goes to the hub of the store's region. Its `key` makes a resubmission the same request.
2. a hub decides its waiting requests most urgent first, then oldest first, so scarce stock goes
   to the urgent ones: rejected when the units exceed the hub's `max_units_per_request`, or when
   the hub has fewer units of a SKU than asked (nothing is reserved then); approved otherwise,
   the units taken from the hub's stock.
3. a hub that is down decides nothing: its requests wait, counted, and are retried at the next
   pass after a backoff (1, 2, 4 … up to 30 minutes) — never dropped, never decided twice (each
   change of status is a conditional UPDATE from the status it expects).
4. approved requests of one hub are scheduled on deliveries of at most `max_stops_per_delivery`
   stores, the stops ordered nearest-neighbour from the hub (each next stop is the closest
   store not yet visited), with the route's length.
5. a delivery is confirmed stop by stop; a stop that is not on it (or not a store of its region)
   is refused; when every stop is confirmed the delivery and its requests are delivered.
Every step is an audit row, written in the same transaction as the change it records, and a
Step the flow emits as an event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from multistore.db import session_scope
from multistore.models import Store
from multistore.network.geo import haversine_km
from multistore.network.models import (
    StoreNode,
    SupplyAudit,
    SupplyDelivery,
    SupplyHub,
    SupplyRequest,
)
from multistore.network.registry import NetworkError

URGENCIES = ("critical", "high", "normal", "low")
MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True)
class Step:
    """One thing that happened: `kind` is submitted, waiting, approved, rejected, scheduled,
    stop-confirmed or delivered."""

    kind: str
    request_id: int | None
    delivery_id: int | None
    detail: str

    @property
    def event(self) -> str:
        return f"multistore.supply.{self.kind}"

    def as_event(self) -> dict[str, Any]:
        """`emit_event`'s arguments: the request (or delivery) as the resource."""
        if self.request_id is not None:
            resource_id, name = f"multistore.supply.request.{self.request_id}", "request"
        else:
            resource_id, name = f"multistore.supply.delivery.{self.delivery_id}", "delivery"
        return {
            "event": self.event,
            "resource": {
                "prefect.resource.id": resource_id,
                "prefect.resource.name": f"supply {name} {self.request_id or self.delivery_id}",
            },
            "payload": {
                "request_id": self.request_id,
                "delivery_id": self.delivery_id,
                "detail": self.detail,
            },
        }


def submit(
    store_id: str,
    items: dict[str, int],
    *,
    urgency: str = "normal",
    key: str | None = None,
    now: datetime,
    url: str | None = None,
) -> tuple[SupplyRequest, list[Step]]:
    """A new request (or the existing one with the same `key`: no step then)."""
    if urgency not in URGENCIES:
        raise NetworkError(f"request: urgency {urgency!r} is not one of {', '.join(URGENCIES)}")
    if not items:
        raise NetworkError("request: items: at least one SKU")
    for sku, units in items.items():
        if not sku or not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise NetworkError(f"request: item {sku!r}: units {units!r} is not a whole number > 0")
    key = key or f"{store_id}-{uuid.uuid4().hex}"
    with session_scope(url) as session:
        existing = session.exec(select(SupplyRequest).where(SupplyRequest.key == key)).first()
        if existing is not None:
            return existing, []
        if session.get(Store, store_id) is None:
            raise NetworkError(f"request: store {store_id!r}: no such store")
        node = session.get(StoreNode, store_id)
        if node is None:
            raise NetworkError(f"request: store {store_id!r} is not on the network (no location)")
        hub = session.exec(select(SupplyHub).where(SupplyHub.region_id == node.region_id)).first()
        if hub is None:
            raise NetworkError(f"request: region {node.region_id!r} of {store_id!r} has no hub")
        request = SupplyRequest(
            key=key,
            store_id=store_id,
            hub_id=hub.id,
            items=dict(items),
            urgency=urgency,
            status="submitted",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(request)
        session.flush()
        detail = f"{store_id} asks {hub.id} for {_units(items)} ({urgency})"
        _audit(session, now, "submitted", detail, request_id=request.id)
        return request, [Step("submitted", request.id, None, detail)]


def waiting_hubs(now: datetime, url: str | None = None) -> list[tuple[str, str | None]]:
    """(hub id, API URL) of the hubs with requests due for a decision."""
    with session_scope(url) as session:
        rows = session.exec(
            select(SupplyHub.id, SupplyHub.api_url)
            .where(
                col(SupplyHub.id).in_(
                    select(SupplyRequest.hub_id).where(
                        SupplyRequest.status == "submitted",
                        col(SupplyRequest.next_attempt_at) <= now,
                    )
                )
            )
            .order_by(SupplyHub.id)
        ).all()
    return [(hub_id, api_url) for hub_id, api_url in rows]


def process(now: datetime, hubs_up: Iterable[str], url: str | None = None) -> list[Step]:
    """Decide every due request of the hubs that are up, make the others wait, then schedule
    the approved ones on deliveries."""
    hubs_up = set(hubs_up)
    steps: list[Step] = []
    with session_scope(url) as session:
        due = session.exec(
            select(SupplyRequest)
            .where(SupplyRequest.status == "submitted", col(SupplyRequest.next_attempt_at) <= now)
            .order_by(SupplyRequest.created_at, SupplyRequest.id)
        ).all()
        due = sorted(due, key=lambda r: URGENCIES.index(r.urgency))  # stable: oldest first
        for request in due:
            if request.hub_id in hubs_up:
                step = _decide(session, request, now)
            else:
                step = _wait(session, request, now)
            if step is not None:
                steps.append(step)
        session.flush()
        for hub_id in sorted(hubs_up):
            steps += _schedule(session, hub_id, now)
    return steps


def confirm(
    delivery_id: int, stops: Iterable[str] | None, *, now: datetime, url: str | None = None
) -> list[Step]:
    """Confirm stops of a delivery (all of them when `stops` is None)."""
    steps: list[Step] = []
    with session_scope(url) as session:
        delivery = session.get(SupplyDelivery, delivery_id)
        if delivery is None:
            raise NetworkError(f"delivery {delivery_id}: no such delivery")
        if delivery.status == "delivered":
            return []
        hub = session.get(SupplyHub, delivery.hub_id)
        region = hub.region_id if hub else None
        asked = list(delivery.stops if stops is None else stops)
        for stop in asked:
            if stop not in delivery.stops:
                node = session.get(StoreNode, stop)
                if node is None or node.region_id != region:
                    raise NetworkError(
                        f"delivery {delivery_id}: stop {stop!r} is not a store of region {region!r}"
                    )
                raise NetworkError(f"delivery {delivery_id}: stop {stop!r} is not on this delivery")
        confirmed = list(delivery.confirmed_stops)
        for stop in asked:
            if stop in confirmed:
                continue
            confirmed.append(stop)
            detail = f"delivery {delivery_id}: {stop} received its goods"
            _audit(session, now, "stop-confirmed", detail, delivery_id=delivery_id)
            steps.append(Step("stop-confirmed", None, delivery_id, detail))
        delivery.confirmed_stops = confirmed
        if set(confirmed) >= set(delivery.stops):
            delivery.status, delivery.confirmed_at = "delivered", now
            session.exec(
                update(SupplyRequest)
                .where(col(SupplyRequest.id).in_(delivery.request_ids))
                .values(status="delivered", updated_at=now)
            )
            detail = f"delivery {delivery_id}: all {len(delivery.stops)} stops delivered"
            _audit(session, now, "delivered", detail, delivery_id=delivery_id)
            steps.append(Step("delivered", None, delivery_id, detail))
        session.add(delivery)
    return steps


def requests(status: str | None = None, url: str | None = None) -> list[SupplyRequest]:
    with session_scope(url) as session:
        query = select(SupplyRequest).order_by(SupplyRequest.id)
        if status is not None:
            query = query.where(SupplyRequest.status == status)
        return list(session.exec(query))


def deliveries(url: str | None = None) -> list[SupplyDelivery]:
    with session_scope(url) as session:
        return list(session.exec(select(SupplyDelivery).order_by(SupplyDelivery.id)))


def audit(url: str | None = None) -> list[SupplyAudit]:
    with session_scope(url) as session:
        return list(session.exec(select(SupplyAudit).order_by(SupplyAudit.id)))


def nearest_neighbour_route(
    start: tuple[float, float], stops: dict[str, tuple[float, float]]
) -> tuple[list[str], float]:
    """Stops in nearest-neighbour order from `start`, and the length there and back (km)."""
    order: list[str] = []
    here, total, left = start, 0.0, dict(stops)
    while left:
        ids = list(left)
        lat = [left[i][0] for i in ids]
        lon = [left[i][1] for i in ids]
        distances = haversine_km(here[0], here[1], lat, lon)
        best = int(distances.argmin())
        total += float(distances[best])
        here = left.pop(ids[best])
        order.append(ids[best])
    if order:
        total += float(haversine_km(here[0], here[1], start[0], start[1]))
    return order, total


def _decide(session: Session, request: SupplyRequest, now: datetime) -> Step | None:
    hub = session.get(SupplyHub, request.hub_id)
    stock = dict(hub.stock) if hub else {}
    total = sum(request.items.values())
    reason = None
    if hub is None:
        reason = f"hub {request.hub_id!r} no longer exists"
    elif total > hub.max_units_per_request:
        reason = f"{total} units exceed the hub's limit of {hub.max_units_per_request} per request"
    else:
        short = [
            (sku, stock.get(sku, 0), n) for sku, n in request.items.items() if stock.get(sku, 0) < n
        ]
        if short:
            sku, have, want = short[0]
            reason = f"{sku}: {have} on hand at {hub.id}, {want} asked"
    status = "rejected" if reason else "approved"
    if not _move(session, request, "submitted", status, now, reason=reason):
        return None  # another pass decided it first
    if reason is None:
        for sku, units in request.items.items():
            stock[sku] = stock[sku] - units
        hub.stock = stock
        session.add(hub)
        what = _units(request.items)
        detail = f"request {request.id}: {hub.id} approves {what} for {request.store_id}"
    else:
        detail = f"request {request.id}: rejected: {reason}"
    _audit(session, now, status, detail, request_id=request.id)
    return Step(status, request.id, None, detail)


def _wait(session: Session, request: SupplyRequest, now: datetime) -> Step | None:
    attempts = request.attempts + 1
    retry_at = now + min(timedelta(minutes=2 ** (attempts - 1)), MAX_BACKOFF)
    moved = session.exec(
        update(SupplyRequest)
        .where(
            col(SupplyRequest.id) == request.id,
            col(SupplyRequest.status) == "submitted",
            col(SupplyRequest.attempts) == request.attempts,
        )
        .values(attempts=attempts, next_attempt_at=retry_at, updated_at=now)
    )
    if moved.rowcount != 1:
        return None
    detail = (
        f"request {request.id}: hub {request.hub_id} is down; try {attempts} failed, "
        f"next at {retry_at.isoformat(timespec='seconds')}"
    )
    _audit(session, now, "waiting", detail, request_id=request.id)
    return Step("waiting", request.id, None, detail)


def _schedule(session: Session, hub_id: str, now: datetime) -> list[Step]:
    hub = session.get(SupplyHub, hub_id)
    approved = session.exec(
        select(SupplyRequest)
        .where(SupplyRequest.hub_id == hub_id, SupplyRequest.status == "approved")
        .order_by(SupplyRequest.id)
    ).all()
    if hub is None or not approved:
        return []
    by_store: dict[str, list[SupplyRequest]] = {}
    for request in approved:
        by_store.setdefault(request.store_id, []).append(request)
    nodes = {
        n.store_id: n
        for n in session.exec(select(StoreNode).where(col(StoreNode.store_id).in_(list(by_store))))
    }
    stores = [s for s in by_store if s in nodes]
    steps = []
    for first in range(0, len(stores), hub.max_stops_per_delivery):
        chunk = stores[first : first + hub.max_stops_per_delivery]
        order, km = nearest_neighbour_route(
            (hub.lat, hub.lon), {s: (nodes[s].lat, nodes[s].lon) for s in chunk}
        )
        ids = [r.id for s in order for r in by_store[s]]
        delivery = SupplyDelivery(
            hub_id=hub_id,
            stops=order,
            request_ids=ids,
            distance_km=round(km, 3),
            status="scheduled",
            scheduled_for=now,
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        moved = 0
        for request_id in ids:
            moved += session.exec(
                update(SupplyRequest)
                .where(col(SupplyRequest.id) == request_id, col(SupplyRequest.status) == "approved")
                .values(status="scheduled", delivery_id=delivery.id, updated_at=now)
            ).rowcount
        if moved != len(ids):
            raise RuntimeError(f"delivery of {hub_id}: requests changed while scheduling; retry")
        detail = f"delivery {delivery.id} from {hub_id}: {' → '.join(order)} ({km:.0f} km)"
        _audit(session, now, "scheduled", detail, delivery_id=delivery.id)
        steps.append(Step("scheduled", None, delivery.id, detail))
    return steps


def _move(
    session: Session,
    request: SupplyRequest,
    old: str,
    new: str,
    now: datetime,
    *,
    reason: str | None,
) -> bool:
    moved = session.exec(
        update(SupplyRequest)
        .where(col(SupplyRequest.id) == request.id, col(SupplyRequest.status) == old)
        .values(status=new, reason=reason, updated_at=now, attempts=request.attempts + 1)
    )
    return moved.rowcount == 1


def _audit(
    session: Session,
    at: datetime,
    step: str,
    detail: str,
    *,
    request_id: int | None = None,
    delivery_id: int | None = None,
) -> None:
    session.add(
        SupplyAudit(at=at, step=step, detail=detail, request_id=request_id, delivery_id=delivery_id)
    )


def _units(items: dict[str, int]) -> str:
    return ", ".join(f"{units} {sku}" for sku, units in items.items())
