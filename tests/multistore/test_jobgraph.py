"""The job graph: defaults, overrides, the three refusals, levels and renderings."""

import itertools
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from multistore.jobgraph import (
    DEFAULT_JOBS,
    GraphError,
    build_graph,
    find_cycle,
    graph_for_store,
    render_mermaid,
    render_text,
)


def test_default_graph_levels_and_edges():
    graph = build_graph()
    assert graph.jobs == DEFAULT_JOBS
    assert graph.levels() == [
        ("homenet_feed", "dnc_compliance"),
        ("dealercom_feed", "vdp_scrape"),
        ("url_shorten",),
    ]
    assert graph.downstream("homenet_feed") == ("dealercom_feed", "vdp_scrape", "url_shorten")
    assert graph.downstream("dnc_compliance") == ()


def test_a_store_turns_jobs_off_and_adds_dependencies():
    store = SimpleNamespace(
        id="sunset-ford",
        jobs=["dnc_compliance", "homenet_feed", "dealercom_feed"],
        dependencies={"dnc_compliance": ["dealercom_feed"]},
    )
    graph = graph_for_store(store)
    assert graph.jobs == ("homenet_feed", "dealercom_feed", "dnc_compliance")
    assert graph.dependencies["dnc_compliance"] == ("dealercom_feed",)
    assert len(graph.levels()) == 3


def test_a_cycle_is_refused_with_its_path():
    with pytest.raises(GraphError) as err:
        build_graph(extra_dependencies={"homenet_feed": ["url_shorten"]}, owner="store a")
    assert str(err.value) == (
        "store a: dependency cycle homenet_feed -> vdp_scrape -> url_shorten -> homenet_feed"
    )


def test_a_self_dependency_is_a_cycle():
    with pytest.raises(GraphError, match="cycle dnc_compliance -> dnc_compliance"):
        build_graph(extra_dependencies={"dnc_compliance": ["dnc_compliance"]})


def test_find_cycle_path_follows_run_order():
    # b runs after a, c after b, a after c.
    cycle = find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]})
    assert cycle == ["a", "b", "c", "a"]
    assert find_cycle({"a": [], "b": ["a"]}) is None


def test_unknown_jobs_are_refused_by_name():
    with pytest.raises(GraphError, match=r"store x: unknown job 'homenet'"):
        build_graph(["homenet"], owner="store x")
    with pytest.raises(GraphError, match=r"unknown job 'scrape'"):
        build_graph(extra_dependencies={"url_shorten": ["scrape"]})


def test_depending_on_a_job_turned_off_is_refused():
    with pytest.raises(GraphError, match="'url_shorten' depends on 'vdp_scrape', which is turned"):
        build_graph(["homenet_feed", "url_shorten"])
    with pytest.raises(GraphError, match="'homenet_feed' depends on 'dnc_compliance'"):
        build_graph(["homenet_feed"], {"homenet_feed": ["dnc_compliance"]})


def test_text_rendering_lists_levels():
    text = render_text(build_graph(), title="store a")
    assert text.splitlines() == [
        "store a",
        "5 jobs, 3 dependencies, 3 levels",
        "  level 0: homenet_feed; dnc_compliance",
        "  level 1: dealercom_feed (after homenet_feed); vdp_scrape (after homenet_feed)",
        "  level 2: url_shorten (after vdp_scrape)",
    ]


def test_mermaid_has_every_edge_and_colours_outcomes():
    mermaid = render_mermaid(build_graph(), {"homenet_feed": "failed", "vdp_scrape": "blocked"})
    assert mermaid.startswith("flowchart LR")
    for edge in (
        "homenet_feed --> dealercom_feed",
        "homenet_feed --> vdp_scrape",
        "vdp_scrape --> url_shorten",
    ):
        assert edge in mermaid
    assert "class homenet_feed failed" in mermaid
    assert "class vdp_scrape blocked" in mermaid


NAMES = ["a", "b", "c", "d", "e", "f"]


@given(
    st.dictionaries(
        st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3), max_size=6
    )
)
def test_any_configuration_is_either_a_true_cycle_or_a_valid_order(extra):
    known = {name: () for name in NAMES}
    try:
        graph = build_graph(None, extra, known=known)
    except GraphError as exc:
        path = str(exc).removeprefix("dependency cycle ").split(" -> ")
        assert path[0] == path[-1]
        for before, after in itertools.pairwise(path):
            assert before in extra.get(after, [])  # each arrow is a declared dependency
        return
    position = {job: n for n, job in enumerate(graph.jobs)}
    for job, deps in extra.items():
        for dep in deps:
            assert position[dep] < position[job]
    depth = {job: n for n, level in enumerate(graph.levels()) for job in level}
    for job, deps in graph.dependencies.items():
        assert depth[job] == 1 + max((depth[d] for d in deps), default=-1)
