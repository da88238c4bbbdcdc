"""Regions, hubs, nodes and machines in the registry (SQLite and PostgreSQL): the rules and
their one-line errors; a rejected change leaves everything as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from multistore.config import ConfigError
from multistore.network.config import load_network_file, parse
from multistore.network.registry import Network, NetworkError
from multistore.registry import Registry


def test_nodes_fall_into_the_region_covering_them(network: Network) -> None:
    regions = {node.store_id: node.region_id for node, _ in network.nodes()}
    assert regions == {
        "sf-1": "west",
        "oak-1": "west",
        "la-1": "west",
        "ny-1": "east",
        "bos-1": "east",
    }


def test_a_store_outside_every_region_is_refused_and_nothing_changes(network: Network) -> None:
    Registry(network.url).add("hnl-1")
    with pytest.raises(
        NetworkError, match=r"store 'hnl-1' at \(21.3, -157.8\) is outside every region"
    ):
        network.set_node(
            parse("nodes", {"store": "hnl-1", "number": 9, "lat": 21.3, "lon": -157.8}, where="")
        )
    assert "hnl-1" not in {node.store_id for node, _ in network.nodes()}


@pytest.mark.parametrize(
    ("section", "entry", "message"),
    [
        (
            "regions",
            {"id": "r", "lat": 91, "lon": 0, "radius_km": 10},
            "lat: latitude 91 is out of range",
        ),
        (
            "regions",
            {"id": "r", "lat": 0, "lon": -181, "radius_km": 10},
            "lon: longitude -181 is out of range",
        ),
        (
            "regions",
            {"id": "r", "lat": 0, "lon": 0, "radius_km": 0},
            "radius_km: radius 0 must be > 0 km",
        ),
        (
            "regions",
            {"id": "R!", "lat": 0, "lon": 0, "radius_km": 1},
            "id: 'R!' is not a region id",
        ),
        (
            "nodes",
            {"store": "x", "number": 0, "lat": 0, "lon": 0},
            "number: Input should be greater",
        ),
        ("hubs", {"id": "h", "region": "r", "lat": 0, "lon": 0, "stock": {"a": -1}}, "stock"),
    ],
)
def test_bad_entries_are_one_line_naming_the_field(section: str, entry: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(section, entry, where="here")
    assert str(caught.value).startswith("here: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_one_hub_per_region_and_one_machine_per_store(network: Network) -> None:
    with pytest.raises(NetworkError, match="region 'west' already has hub 'west-hub'"):
        network.add_hub(
            parse("hubs", {"id": "other", "region": "west", "lat": 37, "lon": -120}, where="")
        )
    network.add_machine(parse("machines", {"id": "m-sf", "store": "sf-1"}, where=""))
    with pytest.raises(NetworkError, match="store 'sf-1' already has machine 'm-sf'"):
        network.add_machine(parse("machines", {"id": "m-2", "store": "sf-1"}, where=""))
    with pytest.raises(NetworkError, match="store: no such store 'nope'"):
        network.add_machine(parse("machines", {"id": "m-3", "store": "nope"}, where=""))
    assert [m.id for m in network.machines()] == ["m-sf"]


def test_shrinking_a_region_that_would_strand_a_store_is_refused(network: Network) -> None:
    with pytest.raises(NetworkError, match=r"store 'la-1' .* is outside every region"):
        network.add_region(
            parse(
                "regions", {"id": "west", "lat": 37.0, "lon": -120.0, "radius_km": 300}, where=""
            ),
            replace=True,
        )
    assert {r.id: r.radius_km for r in network.regions()}["west"] == 800


def test_a_removed_store_drops_out_of_the_network(network: Network) -> None:
    Registry(network.url).remove("oak-1")
    assert "oak-1" not in {node.store_id for node, _ in network.nodes()}
    assert "oak-1" not in network.index().ids


def test_export_then_import_into_an_empty_registry_gives_the_same_network(
    network: Network, second_registry_url: str, tmp_path: Path
) -> None:
    from multistore.network.config import dump_network_file

    network.add_machine(parse("machines", {"id": "m-sf", "store": "sf-1", "model": "R2"}, where=""))
    document = network.export_document()
    path = tmp_path / "net.yaml"
    dump_network_file(document, path)
    registry = Registry(second_registry_url)
    for store_id in ("sf-1", "oak-1", "la-1", "ny-1", "bos-1"):
        registry.add(store_id)
    copy = Network(second_registry_url)
    copy.import_document(load_network_file(path))
    assert copy.export_document() == document


def test_a_bad_file_names_the_entry_and_imports_nothing(network: Network, tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "regions:\n"
        "  - {id: south, lat: 30, lon: -90, radius_km: 400}\n"
        "nodes:\n"
        "  - {store: sf-1, number: 1, lat: 37.77, lon: -122.42}\n"
        "  - {store: ny-1, number: 4, lat: 140, lon: -74}\n"
    )
    with pytest.raises(ConfigError, match=r"net.yaml: nodes entry 1: lat: latitude 140"):
        network.import_document(load_network_file(path))
    path.write_text(
        "regions:\n  - {id: south, lat: 30, lon: -90, radius_km: 400}\n"
        "hubs:\n  - {id: h2, region: nowhere, lat: 30, lon: -90}\n"
    )
    with pytest.raises(NetworkError, match="hub 'h2': region: no such region 'nowhere'"):
        network.import_document(load_network_file(path))
    assert "south" not in {r.id for r in network.regions()}
