"""Run statistics: counts, throughput, violations from observed times, the markdown report."""

from multistore.jobgraph import build_graph
from multistore.runstats import (
    JobRecord,
    combine,
    dependency_violations,
    render_markdown,
    run_statistics,
)

GRAPH = build_graph(["homenet_feed", "dealercom_feed", "vdp_scrape", "url_shorten"])


def _records(**overrides):
    records = {
        "homenet_feed": JobRecord("homenet_feed", "completed", 0.0, 1.0, {"vehicles": 45}),
        "dealercom_feed": JobRecord("dealercom_feed", "completed", 1.0, 2.0),
        "vdp_scrape": JobRecord("vdp_scrape", "failed", 1.0, 3.0, error="HTTP 503"),
        "url_shorten": JobRecord("url_shorten", "blocked", blocked_by="vdp_scrape"),
    }
    records.update(overrides)
    return records


def test_counts_throughput_and_no_violations():
    stats = run_statistics("s1", GRAPH, _records(), started_at=0.0, finished_at=4.0)
    assert (stats["total_jobs"], stats["successful_jobs"]) == (4, 2)
    assert (stats["failed_jobs"], stats["blocked_jobs"]) == (1, 1)
    assert stats["jobs_per_second"] == 0.75  # three jobs ran in four seconds
    assert stats["dependency_violations"] == 0
    assert stats["jobs"]["url_shorten"] == {
        "status": "blocked",
        "metrics": {},
        "error": None,
        "blocked_by": "vdp_scrape",
        "started_at": None,
        "finished_at": None,
        "seconds": None,
    }
    assert "compliance" not in stats


def test_a_job_started_before_its_dependency_finished_is_a_violation():
    early = JobRecord("dealercom_feed", "completed", 0.5, 2.0)
    assert dependency_violations(GRAPH, _records(dealercom_feed=early)) == 1
    after_failure = JobRecord("url_shorten", "completed", 3.5, 4.0)
    assert dependency_violations(GRAPH, _records(url_shorten=after_failure)) == 1


def test_numpy_values_become_json():
    import numpy as np

    record = JobRecord("homenet_feed", "completed", 0.0, 1.0, {"vehicles": np.int64(3)})
    stats = run_statistics("s1", GRAPH, _records(homenet_feed=record), started_at=0, finished_at=1)
    assert type(stats["jobs"]["homenet_feed"]["metrics"]["vehicles"]) is int


def test_combine_over_stores():
    one = run_statistics("a", GRAPH, _records(), started_at=0.0, finished_at=4.0)
    two = run_statistics("b", GRAPH, _records(), started_at=2.0, finished_at=6.0)
    total = combine([one, two])
    assert total["dealers_processed"] == 2 and total["processing_seconds"] == 6.0
    assert (total["total_jobs"], total["blocked_jobs"], total["jobs_per_second"]) == (8, 2, 1.0)


def test_markdown_shows_the_graph_as_a_table_and_metrics_as_columns(tmp_path):
    """The Prefect UI does not draw Mermaid: a table of jobs, state and upstream instead."""
    stats = run_statistics("s1", GRAPH, _records(), started_at=0.0, finished_at=4.0)
    stats["jobs"]["homenet_feed"]["metrics"]["vehicles_path"] = str(
        tmp_path / "inventory" / "store_id=s1" / "vehicles.parquet"
    )
    text = render_markdown(GRAPH, stats, data_dir=tmp_path)
    assert "mermaid" not in text and "classDef" not in text
    assert "| job | state | upstream | seconds | error |" in text
    assert "| homenet_feed | ✅ completed | — | 1.00 |  |" in text
    assert "| vdp_scrape | ❌ failed | homenet_feed |" in text
    assert "| url_shorten | ⛔ blocked | vdp_scrape |  | blocked by vdp_scrape |" in text
    # Each job's metrics in columns of their own; a path relative to the data directory.
    assert "### homenet_feed\n\n| vehicles | vehicles_path |\n|---|---|\n" in text
    assert "| 45 | inventory/store_id=s1/vehicles.parquet |" in text
    assert str(tmp_path) not in text
