"""Machines: status history from the nodes' answers, uptime computed from it, maintenance and
repairs; and the CLI verbs that show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli.app import app as command
from multistore.network import heartbeat, machines
from multistore.network.config import parse
from multistore.network.heartbeat import Check
from multistore.network.registry import Network, NetworkError

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_uptime_from_the_history() -> None:
    changes = [
        (T0, "running"),
        (T0 + timedelta(hours=6), "fault"),
        (T0 + timedelta(hours=8), "running"),
    ]
    # 24 h: 22 up, 2 down.
    assert machines.uptime(changes, start=T0, end=T0 + timedelta(hours=24)) == pytest.approx(
        22 / 24
    )
    # A window inside the fault.
    assert (
        machines.uptime(changes, start=T0 + timedelta(hours=6), end=T0 + timedelta(hours=7)) == 0.0
    )
    # Before anything was known: not counted, so unknown.
    assert (
        machines.uptime(changes, start=T0 - timedelta(days=2), end=T0 - timedelta(days=1)) is None
    )
    with pytest.raises(NetworkError, match="is not after its start"):
        machines.uptime(changes, start=T0, end=T0)


def test_node_answers_keep_the_machine_history(network: Network) -> None:
    network.add_machine(parse("machines", {"id": "m-sf", "store": "sf-1"}, where=""))
    for hours, status in ((0, "running"), (1, "running"), (2, "fault"), (3, "running")):
        at = T0 + timedelta(hours=hours)
        heartbeat.record([Check("sf-1", at, True, 5.0, None, status)], network.url)
    report = machines.report("m-sf", start=T0, end=T0 + timedelta(hours=4), url=network.url)
    assert report.machine.status == "running"
    assert report.uptime == pytest.approx(3 / 4)


def test_machine_verbs(network: Network) -> None:
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(command, list(args))
        return result.exit_code, result.stdout, result.stderr

    assert run("machine", "add", "m-sf", "--store", "sf-1", "--model", "R2")[0] == 0
    code, _, _ = run(
        "machine", "log", "m-sf", "--kind", "repair", "--part", "belt", "--at", "2026-11-02T10:00"
    )
    assert code == 0
    assert run("machine", "repair", "m-sf", "--due", "2026-12-01")[0] == 0
    code, _, err = run("machine", "repair", "m-sf", "--due", "soon")
    assert (code, err) == (1, "error: due: 'soon' is not an ISO date or time\n")
    code, _, err = run("machine", "log", "nope")
    assert (code, err) == (1, "error: machine 'nope': no such machine\n")
    code, out, _ = run("machine", "show", "m-sf", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["uptime"] is None
    assert (
        shown["maintenance"][0]["parts"] == ["belt"]
        and shown["repairs"][0]["status"] == "scheduled"
    )
    due = machines.due_repairs(datetime(2026, 12, 2, tzinfo=UTC), url=network.url)
    assert [r.machine_id for r in due] == ["m-sf"]
    machines.finish_repair(due[0].id, url=network.url)
    assert machines.due_repairs(datetime(2026, 12, 2, tzinfo=UTC), url=network.url) == []


def test_supply_verbs(network: Network) -> None:
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(command, list(args))
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = run("supply", "request", "sf-1", "--item", "cups=3", "--key", "k1", "--json")
    assert code == 0 and json.loads(out)["hub_id"] == "west-hub"
    code, out, _ = run("supply", "request", "sf-1", "--item", "cups=3", "--key", "k1")
    assert "already submitted" in out
    code, _, err = run("supply", "request", "sf-1", "--item", "cups=three")
    assert (code, err) == (1, "error: item 'cups': units 'three' is not a whole number\n")
    code, out, _ = run("supply", "list", "--json")
    assert [r["status"] for r in json.loads(out)] == ["submitted"]
    code, _, err = run("supply", "confirm", "99")
    assert (code, err) == (1, "error: delivery 99: no such delivery\n")
    code, out, _ = run("supply", "audit", "--json")
    assert [r["step"] for r in json.loads(out)] == ["submitted"]
