"""The network's verbs: `multistore region|hub|node|machine …`, `network import|export`,
`nearest LAT LON` and `hub-for LAT LON`. Composed into the command by cli/app.py; no Prefect here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from multistore.cli_output import console, emit_json, fail, local_time, table
from multistore.db import DatabaseUnavailable
from multistore.network.config import (
    dump_network_file,
    load_network_file,
    parse,
)
from multistore.network.lookup import hub_answer, nearest_answer
from multistore.network.registry import Network

F = TypeVar("F", bound=Callable[..., Any])
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
# "-122.4" is a longitude, not an option.
NUMBERS = {"ignore_unknown_options": True}


def _errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, LookupError, DatabaseUnavailable) as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def _answer(as_json: bool, data: Any, message: str) -> None:
    if as_json:
        emit_json(data)
    else:
        console.print(message, highlight=False, markup=False)


def _number(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a number") from None


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    result = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: {value!r} is not KEY=VALUE")
        result[key.strip()] = rest.strip()
    return result


region_app = typer.Typer(help="Regions: centre, service radius, hub.", no_args_is_help=True)
hub_app = typer.Typer(help="Supply hubs, one per region.", no_args_is_help=True)
node_app = typer.Typer(help="Stores as network nodes: location, API, hours.", no_args_is_help=True)
machine_app = typer.Typer(help="Machines, one per store.", no_args_is_help=True)
network_app = typer.Typer(help="The whole network as a file.", no_args_is_help=True)


@region_app.command("add", context_settings=NUMBERS)
@_errors
def region_add(
    region_id: Annotated[str, typer.Argument(metavar="REGION")],
    lat: Annotated[str, typer.Option(help="Centre latitude.")],
    lon: Annotated[str, typer.Option(help="Centre longitude.")],
    radius_km: Annotated[str, typer.Option(help="Service radius, km (> 0).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Update if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a region (stores within the radius of its centre belong to it)."""
    spec = parse(
        "regions",
        {"id": region_id, "name": name, "lat": lat, "lon": lon, "radius_km": radius_km},
        where=f"region {region_id!r}",
    )
    region = Network().add_region(spec, replace=replace)
    _answer(as_json, region.model_dump(), f"region {region.id} saved")


@region_app.command("list")
@_errors
def region_list(as_json: JsonOption = False) -> None:
    network = Network()
    hubs = {h.region_id: h.id for h in network.hubs()}
    counts: dict[str, int] = {}
    for node, _health in network.nodes():
        counts[node.region_id] = counts.get(node.region_id, 0) + 1
    rows = [
        {**r.model_dump(), "hub": hubs.get(r.id), "stores": counts.get(r.id, 0)}
        for r in network.regions()
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "regions",
        ["id", "name", "lat", "lon", "radius km", "hub", "stores"],
        [
            [r["id"], r["name"], r["lat"], r["lon"], r["radius_km"], r["hub"], r["stores"]]
            for r in rows
        ],
    )


@region_app.command("remove")
@_errors
def region_remove(
    region_id: Annotated[str, typer.Argument(metavar="REGION")], as_json: JsonOption = False
) -> None:
    Network().remove_region(region_id)
    _answer(as_json, {"removed": region_id}, f"removed region {region_id}")


@hub_app.command("add", context_settings=NUMBERS)
@_errors
def hub_add(
    hub_id: Annotated[str, typer.Argument(metavar="HUB")],
    region: Annotated[str, typer.Option(help="The region it serves (one hub per region).")],
    lat: Annotated[str, typer.Option()],
    lon: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()] = "",
    address: Annotated[str, typer.Option()] = "",
    api_url: Annotated[str | None, typer.Option(help="The hub's API.")] = None,
    capability: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    contact: Annotated[list[str] | None, typer.Option(help="CHANNEL=VALUE; repeatable.")] = None,
    stock: Annotated[list[str] | None, typer.Option(help="SKU=UNITS; repeatable.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Update if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a region's supply hub."""
    spec = parse(
        "hubs",
        {
            "id": hub_id,
            "region": region,
            "lat": lat,
            "lon": lon,
            "name": name,
            "address": address,
            "api_url": api_url,
            "capabilities": capability or [],
            "contacts": _pairs(contact, "contact"),
            "stock": _pairs(stock, "stock"),
        },
        where=f"hub {hub_id!r}",
    )
    hub = Network().add_hub(spec, replace=replace)
    _answer(as_json, hub.model_dump(), f"hub {hub.id} saved (region {hub.region_id})")


@hub_app.command("list")
@_errors
def hub_list(as_json: JsonOption = False) -> None:
    rows = [h.model_dump() for h in Network().hubs()]
    if as_json:
        emit_json(rows)
        return
    table(
        "supply hubs",
        ["id", "region", "name", "lat", "lon", "capabilities", "stock"],
        [
            [
                h["id"],
                h["region_id"],
                h["name"],
                h["lat"],
                h["lon"],
                ", ".join(h["capabilities"]),
                ", ".join(f"{k}={v}" for k, v in h["stock"].items()),
            ]
            for h in rows
        ],
    )


@hub_app.command("remove")
@_errors
def hub_remove(
    hub_id: Annotated[str, typer.Argument(metavar="HUB")], as_json: JsonOption = False
) -> None:
    Network().remove_hub(hub_id)
    _answer(as_json, {"removed": hub_id}, f"removed hub {hub_id}")


@node_app.command("set", context_settings=NUMBERS)
@_errors
def node_set(
    store: Annotated[str, typer.Argument(metavar="STORE")],
    number: Annotated[str, typer.Option(help="The store number (unique).")],
    lat: Annotated[str, typer.Option()],
    lon: Annotated[str, typer.Option()],
    api_url: Annotated[str | None, typer.Option(help="The node's API (health endpoint).")] = None,
    hours: Annotated[list[str] | None, typer.Option(help="DAY=HH:MM-HH:MM; repeatable.")] = None,
    flag: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Place a store on the network (its region follows from its location)."""
    spec = parse(
        "nodes",
        {
            "store": store,
            "number": number,
            "lat": lat,
            "lon": lon,
            "api_url": api_url,
            "hours": _pairs(hours, "hours"),
            "flags": flag or [],
        },
        where=f"node {store!r}",
    )
    node = Network().set_node(spec)
    _answer(as_json, node.model_dump(), f"node {node.store_id} saved (region {node.region_id})")


@node_app.command("list")
@_errors
def node_list(as_json: JsonOption = False) -> None:
    """Every node with its health as the heartbeats last saw it."""
    rows = []
    for node, health in Network().nodes():
        row = node.model_dump()
        row["reachable"] = None if health is None else health.reachable
        row["last_seen_at"] = None if health is None else health.last_seen_at
        row["latency_ms"] = None if health is None else health.latency_ms
        rows.append(row)
    if as_json:
        emit_json(rows)
        return
    table(
        "store nodes",
        ["store", "number", "region", "lat", "lon", "reachable", "last seen", "latency ms"],
        [
            [
                r["store_id"],
                r["store_number"],
                r["region_id"],
                r["lat"],
                r["lon"],
                {None: "not checked", True: "yes", False: "NO"}[r["reachable"]],
                local_time(r["last_seen_at"]),
                None if r["latency_ms"] is None else round(r["latency_ms"], 1),
            ]
            for r in rows
        ],
    )


@machine_app.command("add")
@_errors
def machine_add(
    machine_id: Annotated[str, typer.Argument(metavar="MACHINE")],
    store: Annotated[str, typer.Option(help="Its store (one machine per store).")],
    model: Annotated[str, typer.Option()] = "",
    serial: Annotated[str, typer.Option()] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Update if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    spec = parse(
        "machines",
        {"id": machine_id, "store": store, "model": model, "serial": serial},
        where=f"machine {machine_id!r}",
    )
    machine = Network().add_machine(spec, replace=replace)
    _answer(as_json, machine.model_dump(), f"machine {machine.id} saved (store {machine.store_id})")


@machine_app.command("list")
@_errors
def machine_list(as_json: JsonOption = False) -> None:
    rows = [m.model_dump() for m in Network().machines()]
    if as_json:
        emit_json(rows)
        return
    table(
        "machines",
        ["id", "store", "model", "serial", "status", "since"],
        [
            [
                m["id"],
                m["store_id"],
                m["model"],
                m["serial"],
                m["status"],
                local_time(m["status_at"]),
            ]
            for m in rows
        ],
    )


@network_app.command("import")
@_errors
def network_import(
    file: Annotated[Path, typer.Argument(help="YAML/JSON with regions, hubs, nodes, machines.")],
    as_json: JsonOption = False,
) -> None:
    """Add or update everything in FILE, all or nothing (nothing is removed)."""
    counts = Network().import_document(load_network_file(file))
    summary = ", ".join(f"{n} {section}" for section, n in counts.items())
    _answer(as_json, {"file": str(file), **counts}, f"imported {file}: {summary}")


@network_app.command("export")
@_errors
def network_export(
    file: Annotated[Path, typer.Argument(help="YAML, or JSON when it ends in .json.")],
    as_json: JsonOption = False,
) -> None:
    document = Network().export_document()
    dump_network_file(document, file)
    counts = {section: len(entries) for section, entries in document.items()}
    _answer(as_json, {"file": str(file), **counts}, f"exported the network to {file}")


@_errors
def nearest(
    lat: Annotated[str | None, typer.Argument(metavar="LAT")] = None,
    lon: Annotated[str | None, typer.Argument(metavar="LON")] = None,
    store: Annotated[
        str | None, typer.Option(help="Fail over from this store: the nearest other one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The nearest reachable store: in the point's region first, then any region."""
    if store is None and (lat is None or lon is None):
        raise ValueError("nearest: give LAT LON, or --store STORE")
    network = Network()
    if store is not None:
        answer = nearest_answer(network, store=store)
    else:
        answer = nearest_answer(network, _number(lat, "lat"), _number(lon, "lon"))  # type: ignore[arg-type]
    where = "same region" if answer["same_region"] else "another region"
    _answer(
        as_json,
        answer,
        f"{answer['store']}: {answer['distance_km']:.1f} km ({where}: {answer['store_region']})",
    )


@_errors
def hub_for(
    lat: Annotated[str, typer.Argument(metavar="LAT")],
    lon: Annotated[str, typer.Argument(metavar="LON")],
    as_json: JsonOption = False,
) -> None:
    """Hub discovery: which region and hub serve a point."""
    answer = hub_answer(Network(), _number(lat, "lat"), _number(lon, "lon"))
    _answer(as_json, answer, f"region {answer['region']}, hub {answer['hub'] or '-'}")


def register(app: typer.Typer) -> None:
    app.add_typer(region_app, name="region")
    app.add_typer(hub_app, name="hub")
    app.add_typer(node_app, name="node")
    app.add_typer(machine_app, name="machine")
    app.add_typer(network_app, name="network")
    app.command("nearest", context_settings=NUMBERS)(nearest)
    app.command("hub-for", context_settings=NUMBERS)(hub_for)
