"""The network in the registry database: regions, hubs, store nodes, machines; lookups.

Each method is one transaction: a bad entry (a store outside every region, a second hub for a
region, an unknown store) raises NetworkError naming it and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from multistore.config import ConfigError
from multistore.db import session_scope
from multistore.models import Store
from multistore.network.config import HubSpec, MachineSpec, NodeSpec, RegionSpec
from multistore.network.geo import Circles, PointIndex, check_coordinates, haversine_one
from multistore.network.models import Machine, NodeHealth, Region, StoreNode, SupplyHub


class NetworkError(ConfigError):
    """Bad network data; the message is one line naming what and where."""


class Network:
    def __init__(self, url: str | None = None) -> None:
        self.url = url

    # --- regions -------------------------------------------------------------------------------

    def add_region(self, spec: RegionSpec, *, replace: bool = False) -> Region:
        with session_scope(self.url) as session:
            region = self._put_region(session, spec, replace=replace)
            self._reassign_nodes(session)
            return region

    def regions(self) -> list[Region]:
        with session_scope(self.url) as session:
            return list(session.exec(select(Region).order_by(Region.id)))

    def remove_region(self, region_id: str) -> None:
        with session_scope(self.url) as session:
            region = session.get(Region, region_id)
            if region is None:
                raise NetworkError(f"region {region_id!r}: no such region")
            hub = session.exec(select(SupplyHub).where(SupplyHub.region_id == region_id)).first()
            if hub is not None:
                raise NetworkError(f"region {region_id!r}: remove its hub {hub.id!r} first")
            session.delete(region)
            session.flush()
            self._reassign_nodes(session)

    # --- hubs ----------------------------------------------------------------------------------

    def add_hub(self, spec: HubSpec, *, replace: bool = False) -> SupplyHub:
        with session_scope(self.url) as session:
            return self._put_hub(session, spec, replace=replace)

    def hubs(self) -> list[SupplyHub]:
        with session_scope(self.url) as session:
            return list(session.exec(select(SupplyHub).order_by(SupplyHub.id)))

    def hub(self, hub_id: str) -> SupplyHub:
        with session_scope(self.url) as session:
            hub = session.get(SupplyHub, hub_id)
            if hub is None:
                raise NetworkError(f"hub {hub_id!r}: no such hub")
            return hub

    def remove_hub(self, hub_id: str) -> None:
        with session_scope(self.url) as session:
            hub = session.get(SupplyHub, hub_id)
            if hub is None:
                raise NetworkError(f"hub {hub_id!r}: no such hub")
            session.delete(hub)

    # --- store nodes ---------------------------------------------------------------------------

    def set_node(self, spec: NodeSpec) -> StoreNode:
        with session_scope(self.url) as session:
            return self._put_node(session, spec)

    def nodes(self) -> list[tuple[StoreNode, NodeHealth | None]]:
        """Every node of a store that exists, with what the heartbeats saw of it."""
        with session_scope(self.url) as session:
            rows = session.exec(
                select(StoreNode, NodeHealth)
                .join(Store, col(Store.id) == col(StoreNode.store_id))
                .join(NodeHealth, col(NodeHealth.store_id) == col(StoreNode.store_id), isouter=True)
                .order_by(StoreNode.store_id)
            )
            return [(node, health) for node, health in rows]

    def node(self, store_id: str) -> StoreNode:
        with session_scope(self.url) as session:
            node = session.get(StoreNode, store_id)
            if node is None or session.get(Store, store_id) is None:
                raise NetworkError(f"store {store_id!r}: not a node of the network (no location)")
            return node

    # --- machines ------------------------------------------------------------------------------

    def add_machine(self, spec: MachineSpec, *, replace: bool = False) -> Machine:
        with session_scope(self.url) as session:
            return self._put_machine(session, spec, replace=replace)

    def machines(self) -> list[Machine]:
        with session_scope(self.url) as session:
            return list(session.exec(select(Machine).order_by(Machine.id)))

    # --- files ---------------------------------------------------------------------------------

    def import_document(self, document: dict[str, list[Any]]) -> dict[str, int]:
        """Add or update everything in a parsed file (config.load_network_file), all or nothing;
        nothing is removed."""
        with session_scope(self.url) as session:
            for spec in document.get("regions", []):
                self._put_region(session, spec, replace=True)
            session.flush()
            for spec in document.get("hubs", []):
                self._put_hub(session, spec, replace=True)
            for spec in document.get("nodes", []):
                self._put_node(session, spec)
            session.flush()
            self._reassign_nodes(session)
            for spec in document.get("machines", []):
                self._put_machine(session, spec, replace=True)
        return {section: len(document.get(section, [])) for section in document}

    def export_document(self) -> dict[str, list[dict[str, Any]]]:
        with session_scope(self.url) as session:
            regions = session.exec(select(Region).order_by(Region.id))
            hubs = session.exec(select(SupplyHub).order_by(SupplyHub.id))
            nodes = session.exec(select(StoreNode).order_by(StoreNode.store_id))
            machines = session.exec(select(Machine).order_by(Machine.id))
            return {
                "regions": [
                    RegionSpec(
                        id=r.id, name=r.name, lat=r.lat, lon=r.lon, radius_km=r.radius_km
                    ).model_dump()
                    for r in regions
                ],
                "hubs": [
                    HubSpec(region=h.region_id, **_fields(h, HubSpec, "region")).model_dump()
                    for h in hubs
                ],
                "nodes": [
                    NodeSpec(
                        store=n.store_id,
                        number=n.store_number,
                        **_fields(n, NodeSpec, "store", "number"),
                    ).model_dump()
                    for n in nodes
                ],
                "machines": [
                    MachineSpec(store=m.store_id, **_fields(m, MachineSpec, "store")).model_dump()
                    for m in machines
                ],
            }

    # --- lookups -------------------------------------------------------------------------------

    def region_for(self, lat: float, lon: float) -> Region | None:
        """The region serving a point: the nearest centre among those whose radius covers it."""
        lat, lon = check_coordinates(lat, lon, what="point")
        return _covering(self.regions(), lat, lon)

    def hub_for(self, lat: float, lon: float) -> tuple[Region, SupplyHub | None] | None:
        """Hub discovery: the region serving a point and its hub (None outside every region)."""
        region = self.region_for(lat, lon)
        if region is None:
            return None
        with session_scope(self.url) as session:
            hub = session.exec(select(SupplyHub).where(SupplyHub.region_id == region.id)).first()
        return region, hub

    def index(self) -> PointIndex:
        """Every enabled store node, eligible when reachable (heartbeats), for nearest()."""
        with session_scope(self.url) as session:
            rows = session.exec(
                select(
                    StoreNode.store_id,
                    StoreNode.lat,
                    StoreNode.lon,
                    StoreNode.region_id,
                    NodeHealth.reachable,
                )
                .join(Store, col(Store.id) == col(StoreNode.store_id))
                .join(NodeHealth, col(NodeHealth.store_id) == col(StoreNode.store_id), isouter=True)
                .where(col(Store.enabled).is_(True))
                .order_by(StoreNode.store_id)
            ).all()
        return PointIndex(
            ids=[r[0] for r in rows],
            lat=np.array([r[1] for r in rows], dtype=float),
            lon=np.array([r[2] for r in rows], dtype=float),
            regions=[r[3] for r in rows],
            eligible=np.array([r[4] is not False for r in rows], dtype=bool),
        )

    # --- the writes, inside a caller's transaction ---------------------------------------------

    def _put_region(self, session: Session, spec: RegionSpec, *, replace: bool) -> Region:
        region = session.get(Region, spec.id)
        if region is not None and not replace:
            raise NetworkError(f"region {spec.id!r}: already exists")
        region = region or Region(id=spec.id, name="", lat=0, lon=0, radius_km=1)
        region.name = spec.name or spec.id
        region.lat, region.lon, region.radius_km = spec.lat, spec.lon, spec.radius_km
        session.add(region)
        return region

    def _put_hub(self, session: Session, spec: HubSpec, *, replace: bool) -> SupplyHub:
        if session.get(Region, spec.region) is None:
            raise NetworkError(f"hub {spec.id!r}: region: no such region {spec.region!r}")
        other = session.exec(select(SupplyHub).where(SupplyHub.region_id == spec.region)).first()
        if other is not None and other.id != spec.id:
            raise NetworkError(
                f"hub {spec.id!r}: region {spec.region!r} already has hub {other.id!r}"
            )
        hub = session.get(SupplyHub, spec.id)
        if hub is not None and not replace:
            raise NetworkError(f"hub {spec.id!r}: already exists")
        values = spec.model_dump(exclude={"region"})
        values["name"] = values["name"] or spec.id
        if hub is None:
            hub = SupplyHub(region_id=spec.region, **values)
        else:
            hub.region_id = spec.region
            for key, value in values.items():
                setattr(hub, key, value)
        session.add(hub)
        session.flush()
        return hub

    def _put_node(self, session: Session, spec: NodeSpec) -> StoreNode:
        store = session.get(Store, spec.store)
        if store is None:
            raise NetworkError(f"node {spec.store!r}: no such store (add it first)")
        taken = session.exec(
            select(StoreNode.store_id).where(
                StoreNode.store_number == spec.number, StoreNode.store_id != spec.store
            )
        ).first()
        if taken is not None:
            raise NetworkError(
                f"node {spec.store!r}: number: store number {spec.number} belongs to {taken!r}"
            )
        region = _region_of(
            session.exec(select(Region)).all(), spec.lat, spec.lon, store.region, spec.store
        )
        node = session.get(StoreNode, spec.store) or StoreNode(
            store_id=spec.store, store_number=spec.number, lat=0, lon=0, region_id=region.id
        )
        node.store_number, node.lat, node.lon = spec.number, spec.lat, spec.lon
        node.region_id = region.id
        node.api_url, node.hours, node.flags = spec.api_url, dict(spec.hours), list(spec.flags)
        session.add(node)
        session.flush()
        return node

    def _put_machine(self, session: Session, spec: MachineSpec, *, replace: bool) -> Machine:
        if session.get(Store, spec.store) is None:
            raise NetworkError(f"machine {spec.id!r}: store: no such store {spec.store!r}")
        other = session.exec(select(Machine).where(Machine.store_id == spec.store)).first()
        if other is not None and other.id != spec.id:
            raise NetworkError(
                f"machine {spec.id!r}: store {spec.store!r} already has machine {other.id!r}"
            )
        machine = session.get(Machine, spec.id)
        if machine is not None and not replace:
            raise NetworkError(f"machine {spec.id!r}: already exists")
        machine = machine or Machine(id=spec.id, store_id=spec.store)
        machine.store_id, machine.model, machine.serial = spec.store, spec.model, spec.serial
        session.add(machine)
        session.flush()
        return machine

    def _reassign_nodes(self, session: Session) -> None:
        """After regions changed: every node into its region again; one outside all is an error."""
        session.flush()
        regions = session.exec(select(Region)).all()
        stores = dict(session.exec(select(Store.id, Store.region)).all())
        for node in session.exec(select(StoreNode)):
            if node.store_id not in stores:
                continue
            region = _region_of(regions, node.lat, node.lon, stores[node.store_id], node.store_id)
            if region.id != node.region_id:
                node.region_id = region.id
                session.add(node)


def _fields(row: Any, spec: type, *skip: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in spec.model_fields if name not in skip}


def _covering(regions: Iterable[Region], lat: float, lon: float) -> Region | None:
    regions = list(regions)
    circles = Circles(
        [r.id for r in regions],
        [r.lat for r in regions],
        [r.lon for r in regions],
        [r.radius_km for r in regions],
    )
    found = circles.covering(lat, lon)
    return next((r for r in regions if r.id == found), None)


def _region_of(
    regions: Iterable[Region], lat: float, lon: float, named: str | None, store_id: str
) -> Region:
    """The store's region: the one its `region` field names when that covers it, else the
    nearest covering one."""
    regions = list(regions)
    by_id = {r.id: r for r in regions}
    if named in by_id:
        region = by_id[named]
        if haversine_one(lat, lon, region.lat, region.lon) <= region.radius_km:
            return region
    region = _covering(regions, lat, lon)
    if region is None:
        raise NetworkError(f"store {store_id!r} at ({lat:g}, {lon:g}) is outside every region")
    return region
