"""Configuration from the environment and files: good values taken, bad ones named in one line."""

from __future__ import annotations

import pytest

from sandbox.config import SandboxConfig


def test_environment_sets_sizes_and_faults(monkeypatch):
    monkeypatch.setenv("MULTISTORE_SANDBOX_CONTACTS", "5000")
    monkeypatch.setenv("MULTISTORE_SANDBOX_SEED", "9")
    monkeypatch.setenv("MULTISTORE_SANDBOX_FAULTS", '[{"vendor": "dnc", "outage": true}]')
    config = SandboxConfig.from_env(vehicles_per_store=7, stores=None)
    assert (config.contacts_per_store, config.seed, config.vehicles_per_store) == (5000, 9, 7)
    assert config.stores == 10
    assert [(f.vendor, f.outage) for f in config.faults] == [("dnc", True)]


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("MULTISTORE_SANDBOX_CONTACTS", "many", "contacts_per_store"),
        ("MULTISTORE_SANDBOX_FAULTS", "/nowhere/faults.yaml", "does not exist"),
        ("MULTISTORE_SANDBOX_FAULTS", '[{"vendor": "dnc", "hang_rate": 3}]', "hang_rate"),
        ("MULTISTORE_SANDBOX_FAULTS", "[{", "not valid YAML/JSON"),
    ],
)
def test_bad_environment_is_one_line_naming_it(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=message) as info:
        SandboxConfig.from_env()
    assert "\n" not in str(info.value)


def test_a_fault_until_a_past_time_is_already_off_and_a_future_one_is_on():
    from datetime import UTC, datetime, timedelta

    from sandbox.faults import FaultBook, parse_faults

    now = datetime.now(UTC)
    faults = parse_faults(
        [
            {"vendor": "crm", "outage": True, "until": (now - timedelta(seconds=1)).isoformat()},
            {"vendor": "dnc", "outage": True, "until": (now + timedelta(hours=1)).isoformat()},
        ],
        where="test",
    )
    book = FaultBook(seed=0, faults=faults)
    assert book.matching("crm", "s1") == []
    assert [f.vendor for f in book.matching("dnc", "s1")] == ["dnc"]
    assert [
        f.vendor
        for f in FaultBook(0, parse_faults({"vendor": "crm"}, where="t")).matching("crm_ui", "s1")
    ] == ["crm"], "vendor crm covers its web UI"
