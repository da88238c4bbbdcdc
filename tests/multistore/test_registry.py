"""The registry on SQLite and PostgreSQL: stores, runs, quarantine, import and STORE_IDS."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

import multistore.registry as registry_module
from multistore.config import DEFAULT_JOBS, ConfigError, StoreConfig, parse_store
from multistore.registry import (
    DuplicateStoreError,
    Priority,
    Registry,
    RegistryError,
    Store,
    StoreRun,
    UnknownStoreError,
)
from multistore.settings import reset_settings


@pytest.fixture
def registry(registry_url: str) -> Registry:
    return Registry(registry_url)


def test_add_and_get_keep_every_field(registry: Registry) -> None:
    registry.add(
        "sunset-ford",
        name="Sunset Ford",
        priority="high",
        timezone="America/Los_Angeles",
        window="22:00-06:00",
        region="west",
        tags=["ford"],
        dependencies={"url_shorten": ["dealercom_feed"]},
    )
    store = registry.get("sunset-ford")
    assert isinstance(store, Store)
    assert (store.name, store.priority, store.timezone) == (
        "Sunset Ford",
        Priority.HIGH,
        "America/Los_Angeles",
    )
    assert (store.window_start, store.window_end) == ("22:00", "06:00")
    assert store.jobs == list(DEFAULT_JOBS)
    assert store.dependencies == {"url_shorten": ["dealercom_feed"]}
    assert store.blocks["crm"] == "crm-sunset-ford"
    assert store.blocks["dnc"] == "dnc-default"
    assert (store.region, store.tags, store.enabled) == ("west", ["ford"], True)
    assert store.consecutive_failures == 0 and store.quarantined_at is None


def test_defaults_are_always_open_medium_utc(registry: Registry) -> None:
    store = registry.add("plain")
    assert (store.name, store.priority, store.timezone) == ("plain", Priority.MEDIUM, "UTC")
    assert store.always_open


def test_duplicate_and_unknown_ids_are_named(registry: Registry) -> None:
    registry.add("a")
    with pytest.raises(DuplicateStoreError, match="'a' already exists"):
        registry.add("a")
    with pytest.raises(UnknownStoreError, match="unknown store 'nope'"):
        registry.get("nope")
    for call in (registry.enable, registry.disable, registry.release, registry.remove):
        with pytest.raises(UnknownStoreError, match="'nope'"):
            call("nope")


def _insert_behind_our_back(
    monkeypatch: pytest.MonkeyPatch, registry_url: str, store_id: str
) -> None:
    """Another process adds `store_id` after add_config has checked it is free."""
    real_apply = registry_module._apply

    def racing_apply(store: Store, config: StoreConfig) -> None:
        real_apply(store, config)
        if config.id == store_id:
            monkeypatch.setattr(registry_module, "_apply", real_apply)
            Registry(registry_url, from_env=False).add(store_id)

    monkeypatch.setattr(registry_module, "_apply", racing_apply)


def test_add_racing_another_process_is_a_duplicate(
    registry: Registry, registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert_behind_our_back(monkeypatch, registry_url, "a")
    with pytest.raises(DuplicateStoreError, match="'a' already exists"):
        registry.add("a")
    assert [s.id for s in registry.list()] == ["a"]
    registry.add("b")  # the registry is still usable
    assert [s.id for s in registry.list()] == ["a", "b"]


def test_store_ids_env_tolerates_another_process_adding_the_same_store(
    registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_IDS", "alpha,beta")
    reset_settings()
    _insert_behind_our_back(monkeypatch, registry_url, "alpha")
    registry = Registry(registry_url)
    assert [s.id for s in registry.list()] == ["alpha", "beta"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"store_id": "Bad_Id"}, "id: 'Bad_Id' is not a store id"),
        ({"store_id": "x" * 65}, "is not a store id"),
        ({"store_id": "a", "timezone": "Mars/Base"}, "timezone: 'Mars/Base'"),
        ({"store_id": "a", "window": "22:00"}, "window: '22:00' is not a window"),
        ({"store_id": "a", "priority": "urgent"}, "priority: 'urgent' is not a priority"),
        ({"store_id": "a", "jobs": ["Bad Job"]}, "jobs: 'Bad Job' is not a job name"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(
    registry: Registry, fields: dict, message: str
) -> None:
    fields = dict(fields)
    store_id = fields.pop("store_id")
    with pytest.raises(ConfigError, match=message):
        registry.add(store_id, **fields)
    assert registry.list() == []


def test_list_filters(registry: Registry) -> None:
    registry.add("a", priority="high", region="west")
    registry.add("b", priority="LOW", region="east", enabled=False)
    registry.add("c", priority="low", region="east")
    registry.record_outcome("c", False, "boom", threshold=1)
    assert [s.id for s in registry.list()] == ["a", "b", "c"]
    assert [s.id for s in registry.list(priority="low")] == ["b", "c"]
    assert [s.id for s in registry.list(enabled=False)] == ["b"]
    assert [s.id for s in registry.list(quarantined=True)] == ["c"]
    assert [s.id for s in registry.list(quarantined=False, region="east")] == ["b"]


def test_enable_disable_priority_schedule(registry: Registry) -> None:
    registry.add("a")
    assert not registry.disable("a").enabled
    assert registry.enable("a").enabled
    assert registry.set_priority("a", "High").priority == Priority.HIGH
    store = registry.set_schedule("a", timezone="America/Chicago", window="21:00-05:00")
    assert (store.timezone, store.window_start, store.window_end) == (
        "America/Chicago",
        "21:00",
        "05:00",
    )
    assert registry.set_schedule("a", always=True).always_open
    assert registry.get("a").timezone == "America/Chicago"
    with pytest.raises(ConfigError, match="timezone: 'Nowhere/Land'"):
        registry.set_schedule("a", timezone="Nowhere/Land")
    with pytest.raises(ConfigError, match="priority:"):
        registry.set_priority("a", "urgent")
    assert registry.get("a").priority == Priority.HIGH


def test_runs_are_recorded_and_stamp_last_run(registry: Registry) -> None:
    registry.add("a")
    first = registry.start_run("a", "flow-1")
    registry.finish_run(first, "failed", error="CRM down")
    second = registry.start_run("a", "flow-2")
    run = registry.finish_run(second, "completed", metrics={"contacts": 12})
    assert isinstance(run, StoreRun)
    runs = registry.history("a")
    assert [r.flow_run_id for r in runs] == ["flow-2", "flow-1"]
    assert runs[0].metrics == {"contacts": 12} and runs[1].error == "CRM down"
    assert runs[0].finished_at is not None and runs[0].finished_at.tzinfo is not None
    assert registry.get("a").last_run_at == runs[0].finished_at
    assert registry.last_runs()["a"].id == second
    with pytest.raises(UnknownStoreError):
        registry.start_run("nope", "flow-3")
    with pytest.raises(RegistryError, match="run_id: no store run 9999"):
        registry.finish_run(9999, "completed")


def test_remove_drops_the_history_too(registry: Registry) -> None:
    registry.add("a")
    registry.finish_run(registry.start_run("a", "f"), "completed")
    registry.remove("a")
    registry.add("a")
    assert registry.history("a") == []


def test_quarantine_after_threshold_and_release(registry: Registry) -> None:
    registry.add("a")
    assert registry.record_outcome("a", False, "e1", threshold=3) is False
    assert registry.record_outcome("a", True, None, threshold=3) is False
    assert registry.get("a").consecutive_failures == 0
    results = [registry.record_outcome("a", False, f"e{i}", threshold=3) for i in range(4)]
    assert results == [False, False, True, False]
    store = registry.get("a")
    assert store.quarantined and store.consecutive_failures == 4
    assert store.quarantine_reason == "3 consecutive failures; last: e2"
    released = registry.release("a")
    assert not released.quarantined and released.consecutive_failures == 0
    with pytest.raises(UnknownStoreError):
        registry.record_outcome("nope", False, "x", threshold=1)


def test_concurrent_failures_quarantine_exactly_once(registry: Registry) -> None:
    """Many workers failing the same store at once: every failure counts, one quarantines."""
    registry.add("a")
    results: list[bool] = []
    lock = threading.Lock()

    def fail_once() -> None:
        result = Registry(registry.url).record_outcome("a", False, "boom", threshold=5)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=fail_once) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert registry.get("a").consecutive_failures == 16


def test_concurrent_runs_get_distinct_ids(registry: Registry) -> None:
    registry.add("a")
    ids: list[int] = []

    def run() -> None:
        run_id = registry.start_run("a", None)
        registry.finish_run(run_id, "completed")
        ids.append(run_id)

    threads = [threading.Thread(target=run) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 12
    assert len(registry.history("a")) == 12


def test_import_replaces_merges_and_is_all_or_nothing(registry: Registry) -> None:
    registry.add("old")
    registry.add("kept", priority="low")
    configs = [parse_store({"id": "kept", "priority": "high"}), parse_store({"id": "new"})]
    summary = registry.import_stores(configs, merge=True)
    assert summary == {"added": ["new"], "updated": ["kept"], "removed": []}
    assert registry.get("kept").priority == Priority.HIGH
    assert [s.id for s in registry.list()] == ["kept", "new", "old"]

    summary = registry.import_stores(configs)
    assert summary["removed"] == ["old"]
    assert [s.id for s in registry.list()] == ["kept", "new"]


def test_import_refuses_to_drop_history_without_force(registry: Registry) -> None:
    registry.add("busy")
    registry.finish_run(registry.start_run("busy", "f"), "completed")
    configs = [parse_store({"id": "other"})]
    with pytest.raises(RegistryError, match="run history: busy"):
        registry.import_stores(configs)
    assert [s.id for s in registry.list()] == ["busy"]
    registry.import_stores(configs, force=True)
    assert [s.id for s in registry.list()] == ["other"]


def test_reimport_keeps_quarantine_unless_the_file_states_it(registry: Registry) -> None:
    registry.add("a")
    registry.record_outcome("a", False, "boom", threshold=1)
    registry.import_stores([parse_store({"id": "a", "name": "Renamed"})], merge=True)
    store = registry.get("a")
    assert store.name == "Renamed" and store.quarantined
    registry.import_stores([parse_store({"id": "a", "quarantined_at": None})], merge=True)
    assert not registry.get("a").quarantined


def test_export_then_import_into_an_empty_registry(
    registry: Registry, tmp_path, second_registry_url: str
) -> None:
    registry.add("a", priority="high", timezone="America/Chicago", window="22:00-06:00")
    registry.add("b", enabled=False, tags=["x", "y"], jobs=["dnc_compliance"], region="east")
    registry.record_outcome("b", False, "boom", threshold=1)
    registry.finish_run(registry.start_run("a", "f"), "completed")
    exported = registry.export()

    other = Registry(second_registry_url)
    other.import_stores(exported)
    assert other.export() == exported


def test_store_ids_env_adds_stores_with_defaults(
    registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_IDS", "alpha, beta,alpha")
    reset_settings()
    registry = Registry(registry_url)
    assert [s.id for s in registry.list()] == ["alpha", "beta"]
    assert registry.get("alpha").priority == Priority.MEDIUM


def test_store_ids_env_names_a_bad_id(registry_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_IDS", "good,Not Good")
    reset_settings()
    with pytest.raises(ConfigError, match=r"^STORE_IDS entry 2: 'Not Good' is not a store id"):
        Registry(registry_url)


def test_times_without_a_zone_in_a_file_are_utc(registry: Registry) -> None:
    registry.add("a")
    config = parse_store({"id": "a", "last_run_at": "2026-01-01T00:00:00"})
    registry.import_stores([config], merge=True)
    assert registry.get("a").last_run_at == datetime(2026, 1, 1, tzinfo=UTC)
