"""Store files and STORE_IDS: valid input parses, bad input is one line naming field and entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.demo import EXAMPLE_STORES
from multistore.config import (
    DEFAULT_JOBS,
    ConfigError,
    Priority,
    dump_store_file,
    load_store_file,
    parse_store,
    store_ids_from_env,
)


def write(tmp_path: Path, text: str, name: str = "stores.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_example_file_is_valid_and_varied() -> None:
    stores = load_store_file(EXAMPLE_STORES)
    assert 10 <= len(stores) <= 15
    zones = {s.timezone for s in stores}
    assert {"America/Los_Angeles", "America/Chicago", "America/New_York"} <= zones
    assert {s.priority for s in stores} == set(Priority)
    windows = {s.window for s in stores}
    assert None in windows
    assert any(w and w.split("-")[0] > w.split("-")[1] for w in windows)
    assert {"west", "central", "east"} <= {s.region for s in stores}


def test_a_file_may_be_a_list_or_a_mapping_yaml_or_json(tmp_path: Path) -> None:
    as_list = write(tmp_path, "- id: a\n  priority: High\n  window: 22:00-06:00\n")
    [store] = load_store_file(as_list)
    assert (store.priority, store.window, store.jobs) == (
        Priority.HIGH,
        "22:00-06:00",
        list(DEFAULT_JOBS),
    )
    as_json = write(tmp_path, '{"stores": [{"id": "b", "window": null}]}', "s.json")
    [store] = load_store_file(as_json)
    assert store.window is None and store.name == "b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "stores:\n  - id: ok\n  - id: Bad!\n",
            r"stores.yaml: entry 2, store 'Bad!': id: 'Bad!' is not a store id",
        ),
        (
            "- id: a\n- id: b\n  timezone: Mars/Base\n",
            r"entry 2, store 'b': timezone: 'Mars/Base' is not an IANA time zone",
        ),
        ("- id: a\n  window: 22:00-22:00\n", r"entry 1, store 'a': window: .* empty window"),
        ("- id: a\n  priority: urgent\n", r"entry 1, store 'a': priority: 'urgent'"),
        ("- id: a\n  colour: red\n", r"entry 1, store 'a': colour: unknown field"),
        ("- id: a\n- id: a\n", r"entry 2: id: duplicate store id 'a' \(also entry 1\)"),
        ("- name: nameless\n", r"entry 1: id: Field required"),
        ("- just-a-string\n", r"entry 1: expected a mapping"),
        ("stores: {id: a}\n", r"expected a list of stores"),
        ("stors: []\n", r"unknown top-level key 'stors'"),
        ("- id: a\n  tags: [\n", r"not valid YAML at line 3, column 1: expected the node content"),
        ("- id: a\n   bad: indent\n  x: 1\n", r"not valid YAML at line 2, column 7: mapping"),
        (
            '- id: a\n  name: "open\n',
            r"YAML at line 3, column 1: .*\(while scanning a quoted scalar from line 2, column 9\)",
        ),
        (
            "- id: a\n  timezone: EST\n",
            r"entry 1, store 'a': timezone: 'EST' is a fixed offset \(UTC-05:00 all year, no "
            r"daylight saving\); use the IANA name America/New_York$",
        ),
        (
            "- id: a\n  timezone: PST8PDT\n",
            r"timezone: 'PST8PDT' is a legacy POSIX-style zone; use the IANA name "
            r"America/Los_Angeles$",
        ),
    ],
)
def test_bad_files_are_one_line_naming_entry_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_store_file(path)
    assert "\n" not in str(info.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read"):
        load_store_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name", ["out.yaml", "out.json"])
def test_dump_then_load_is_the_same(tmp_path: Path, name: str) -> None:
    stores = load_store_file(EXAMPLE_STORES)
    stores.append(
        parse_store(
            {
                "id": "sick",
                "consecutive_failures": 3,
                "quarantined_at": "2026-01-02T03:04:05+00:00",
                "quarantine_reason": "3 consecutive failures; last: boom",
            }
        )
    )
    dump_store_file(stores, tmp_path / name)
    assert load_store_file(tmp_path / name) == stores


def test_store_ids_from_env() -> None:
    assert store_ids_from_env(" a, b ,,a") == ["a", "b"]
    assert store_ids_from_env("") == []
    with pytest.raises(ConfigError, match=r"^STORE_IDS entry 3: 'C' is not a store id"):
        store_ids_from_env("a,b,C")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"jobs": ["homenet_fed"]}, "unknown job 'homenet_fed'"),
        (
            {"jobs": ["dealercom_feed"]},
            "'dealercom_feed' depends on 'homenet_feed', which is turned",
        ),
        (
            {"dependencies": {"homenet_feed": ["url_shorten"]}},
            "dependency cycle homenet_feed -> vdp_scrape -> url_shorten -> homenet_feed",
        ),
    ],
)
def test_a_job_graph_that_can_never_run_is_refused_when_configured(fields, expected) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_store({"id": "a", **fields})
