"""The network verbs of the `multistore` CLI: answers, JSON, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.app import app as command
from multistore.network.registry import Network


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_nearest_takes_negative_longitudes_and_prints_json(network: Network) -> None:
    code, out, _ = _run("nearest", "37.79", "-122.30", "--json")
    assert code == 0
    assert json.loads(out)["store"] == "oak-1"
    code, out, _ = _run("nearest", "--store", "sf-1")
    assert code == 0 and out.startswith("oak-1:")


def test_hub_for_and_its_error_outside_every_region(network: Network) -> None:
    code, out, _ = _run("hub-for", "42", "-72", "--json")
    assert code == 0 and json.loads(out)["hub"] == "east-hub"
    code, _, err = _run("hub-for", "21.3", "-157.8")
    assert code == 1
    assert err == "error: point (21.3, -157.8) is outside every region\n"


def test_region_hub_node_machine_verbs_and_their_errors(network: Network) -> None:
    code, _, err = _run(
        "region", "add", "south", "--lat", "30", "--lon", "-90", "--radius-km", "-5"
    )
    assert (code, err) == (1, "error: region 'south': radius_km: radius -5 must be > 0 km\n")
    code, _, _ = _run("region", "add", "south", "--lat", "30", "--lon", "-90", "--radius-km", "400")
    assert code == 0
    code, _, err = _run(
        "hub", "add", "s-hub", "--region", "south", "--lat", "30", "--lon", "-90", "--stock", "nuts"
    )
    assert (code, err) == (1, "error: stock: 'nuts' is not KEY=VALUE\n")
    code, out, _ = _run(
        "hub",
        "add",
        "s-hub",
        "--region",
        "south",
        "--lat",
        "30",
        "--lon",
        "-90",
        "--stock",
        "nuts=5",
        "--json",
    )
    assert code == 0 and json.loads(out)["stock"] == {"nuts": 5}
    code, _, err = _run("node", "set", "sf-1", "--number", "2", "--lat", "37.7", "--lon", "-122.4")
    assert (code, err) == (1, "error: node 'sf-1': number: store number 2 belongs to 'oak-1'\n")
    code, _, _ = _run("machine", "add", "m-1", "--store", "sf-1", "--model", "R2")
    assert code == 0
    code, out, _ = _run("machine", "list", "--json")
    assert [m["id"] for m in json.loads(out)] == ["m-1"]
    code, out, _ = _run("region", "list", "--json")
    assert {r["id"]: r["stores"] for r in json.loads(out)} == {"east": 2, "south": 0, "west": 3}


def test_network_export_import_round_trip(network: Network, tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    code, out, _ = _run("network", "export", str(path), "--json")
    assert code == 0 and json.loads(out)["nodes"] == 5
    code, out, _ = _run("network", "import", str(path), "--json")
    assert code == 0 and json.loads(out)["regions"] == 2
    path.write_text('{"regions": [], "stores": []}')
    code, _, err = _run("network", "import", str(path))
    assert code == 1 and "unknown section 'stores'" in err
