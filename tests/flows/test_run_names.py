"""Run names that say what a run covers, and parameters the UI's Run form offers as choices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prefect.utilities.callables import parameter_schema

from flows.run_names import parent_name, store_attempt_name, store_name
from flows.run_stores import run_stores
from flows.store_pipeline import store_pipeline
from multistore.jobgraph import DEFAULT_JOBS


@pytest.mark.parametrize(
    ("parameters", "deployment", "expected"),
    [
        ({"region": "west"}, "nightly", "nightly 2026-11-29 west"),
        ({"region": "east"}, "nightly", "nightly 2026-11-29 east"),
        ({"stores": ["sunset-ford"]}, "adhoc", "adhoc: sunset-ford"),
        (
            {"stores": ["a", "b", "c", "d", "e"], "ignore_windows": True},
            "adhoc",
            "adhoc: a, b, c +2 more ignoring windows",
        ),
        ({"region": "central", "priority": "HIGH"}, "adhoc", "adhoc: region central, HIGH"),
        ({}, None, "local: all due stores"),
        (
            {"dry_run": True, "jobs": ["homenet_feed"]},
            None,
            "local dry run: all due stores (homenet_feed)",
        ),
    ],
)
def test_a_parent_run_is_named_for_what_it_covers(parameters, deployment, expected) -> None:
    # 23:30 in Los Angeles on the 29th is 07:30 UTC on the 30th: the night keeps its own date.
    scheduled = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)  # 23:30 in New York, 20:30 in LA
    assert parent_name(parameters, deployment=deployment, scheduled=scheduled) == expected
    west = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    assert parent_name({"region": "west"}, deployment="nightly", scheduled=west) == (
        "nightly 2026-11-29 west"
    )


def test_a_store_attempt_is_named_for_the_store_and_the_attempt() -> None:
    assert store_attempt_name("sunset-ford", 2) == "sunset-ford attempt 2"
    # The parent's name survives the store flow's own template; a run of its own gets one.
    given = {"store_id": "sunset-ford"}
    assert store_name(given, current="sunset-ford attempt 2") == "sunset-ford attempt 2"
    assert store_name(given, current="indefinable-ant") == "sunset-ford"
    jobs = {"store_id": "sunset-ford", "jobs": ["homenet_feed"]}
    assert store_name(jobs, current=None) == "sunset-ford: homenet_feed"


def _enum(schema: dict, name: str) -> list:
    prop = schema["properties"][name]
    for option in prop.get("anyOf", [prop]):
        if "$ref" in option:
            option = schema["definitions"][option["$ref"].split("/")[-1]]
        if option.get("type") == "array":
            option = option["items"]
        if "enum" in option:
            return option["enum"]
    raise AssertionError(f"{name}: no choices in {prop}")


def test_the_run_form_offers_choices_for_priority_region_and_jobs() -> None:
    schema = parameter_schema(run_stores.fn).model_dump()
    assert _enum(schema, "priority") == ["HIGH", "MEDIUM", "LOW"]
    assert _enum(schema, "region") == ["west", "central", "east"]
    assert _enum(schema, "jobs") == list(DEFAULT_JOBS)
    assert _enum(parameter_schema(store_pipeline.fn).model_dump(), "jobs") == list(DEFAULT_JOBS)


def test_parameters_validate_and_accept_a_priority_in_any_case() -> None:
    valid = run_stores.validate_parameters({"priority": "high", "region": "west"})
    assert valid["priority"] == "HIGH" and valid["region"] == "west"
    for bad in ({"priority": "urgent"}, {"region": "mars"}, {"jobs": ["no_such_job"]}):
        with pytest.raises(Exception, match="invalid parameters"):
            run_stores.validate_parameters(bad)
