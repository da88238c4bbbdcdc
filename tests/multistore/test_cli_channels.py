"""The channel verbs end to end in-process: connect, policy, allocation, reservations and the
manual review queue, with one-line errors for bad input."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from cli.app import app as command
from multistore.channels.conflicts import COLUMNS
from multistore.channels.reservations import Reservations
from multistore.channels.review import ConflictBook
from multistore.channels.stores import StoreChannels


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str):  # type: ignore[no-untyped-def]
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def error(*args: str) -> str:
    code, _out, err = run(*args)
    assert code == 1
    (line,) = err.strip().splitlines()
    return line


def test_connect_allocate_reserve_and_review() -> None:
    ok("add", "--id", "s1")
    ok("channels", "connect", "s1", "web", "--type", "shopify", "--priority", "2")
    ok("channels", "connect", "s1", "bay", "--type", "ebay", "--max", "3")
    assert [c["block"] for c in ok("channels", "list", "s1")] == ["ebay-s1", "shopify-s1"]
    ok("channels", "policy", "s1", "--buffer-units", "1")
    Reservations().set_on_hand("s1", {"A": 10, "B": 0})

    hold = ok("reservations", "reserve", "s1", "A", "2", "--order", "o1")
    rows = {r["sku"]: r for r in ok("allocation", "show", "s1")}
    # 10 on hand − 2 reserved − 1 buffer = 7: eBay capped at 3, the web shop takes the rest;
    # eBay's default safety unit comes off its own share and is held (absolute writes).
    assert [c["safety"] for c in ok("channels", "list", "s1")] == [1, 0]
    assert (rows["A"]["web"], rows["A"]["bay"], rows["A"]["held"]) == (4, 2, 1)
    ok("channels", "connect", "s1", "bay", "--type", "ebay", "--max", "3", "--safety", "0")
    rows = {r["sku"]: r for r in ok("allocation", "show", "s1")}
    assert (rows["A"]["web"], rows["A"]["bay"], rows["A"]["held"]) == (4, 3, 0)
    assert (rows["B"]["web"], rows["B"]["bay"]) == (0, 0)  # zeros, not missing
    assert ok("reservations", "confirm", str(hold["id"]))["status"] == "confirmed"
    assert ok("reservations", "release", str(hold["id"]))["status"] == "released"
    assert "cannot reserve 11 of 'A': 10 available" in error(
        "reservations", "reserve", "s1", "A", "11", "--order", "o2"
    )

    found = pd.DataFrame([("overselling", "A", "*", 10.0, 12.0, "sold")], columns=COLUMNS)
    ConflictBook().record("s1", found)
    ConflictBook().settle("s1", StoreChannels().policy("s1")[1])
    (queued,) = ok("conflicts", "list", "s1")
    done = ok("conflicts", "resolve", str(queued["id"]), "--by", "ana", "--value", "10")
    assert done["decided_by"] == "user:ana"
    assert ok("conflicts", "list", "s1") == []
    assert "already resolved" in error("conflicts", "resolve", str(queued["id"]), "--by", "ana")


def test_bad_channel_input_is_one_line() -> None:
    ok("add", "--id", "s1")
    assert "unknown type 'etsy'" in error("channels", "connect", "s1", "x", "--type", "etsy")
    assert "unknown store 'nope'" in error("channels", "connect", "nope", "x", "--type", "ebay")
    assert "max_units must be a whole number" in error(
        "channels", "connect", "s1", "x", "--type", "ebay", "--max", "-1"
    )
    assert "is not one of" in error("channels", "policy", "s1", "--strategy", "fifo")
    assert "no channel connected" in error("allocation", "show", "s1")
    assert ok("channels", "list") == []
