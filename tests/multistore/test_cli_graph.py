"""`multistore graph` and `multistore breakers` through the real CLI app."""

import json

from typer.testing import CliRunner

from cli.app import app
from multistore.breaker import BreakerPolicy, CircuitBreaker
from multistore.registry import Registry
from tests.fixtures.registry import store_with_raw_dependencies

runner = CliRunner()


def test_graph_prints_levels_and_mermaid():
    Registry().add("sunset-ford", jobs=["homenet_feed", "vdp_scrape", "url_shorten"])
    text = runner.invoke(app, ["graph", "sunset-ford"])
    assert text.exit_code == 0, text.output
    assert "level 2: url_shorten (after vdp_scrape)" in text.output
    mermaid = runner.invoke(app, ["graph", "sunset-ford", "--mermaid"])
    assert "vdp_scrape --> url_shorten" in mermaid.output
    data = json.loads(runner.invoke(app, ["graph", "sunset-ford", "--json"]).output)
    assert data["levels"] == [["homenet_feed"], ["vdp_scrape"], ["url_shorten"]]


def test_graph_refuses_a_cycle_in_one_line():
    store_with_raw_dependencies("loop", {"homenet_feed": ["url_shorten"]})
    result = runner.invoke(app, ["graph", "loop"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: store loop: dependency cycle homenet_feed -> vdp_scrape -> url_shorten"
        " -> homenet_feed"
    )


def test_breakers_lists_and_resets():
    CircuitBreaker("homenet", policy=BreakerPolicy(threshold=1)).record_failure("HTTP 503")
    listed = json.loads(runner.invoke(app, ["breakers", "--json"]).output)
    assert [(b["service"], b["state"]) for b in listed] == [("homenet", "open")]
    reset = json.loads(runner.invoke(app, ["breakers", "--reset", "homenet", "--json"]).output)
    assert reset[0]["state"] == "closed"
