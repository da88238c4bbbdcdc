"""Shared fixtures live in tests/fixtures/, one module per outside part."""

from __future__ import annotations

import functools

import pytest
import typer.main
import typer.testing

pytest_plugins = [
    "tests.fixtures.settings",
    "tests.fixtures.postgres",
    "tests.fixtures.prefect_server",
    "tests.fixtures.sandbox",
    "tests.fixtures.docker",
]

# typer's CliRunner builds the whole command tree from every verb's signature on each invoke
# (~55 ms of CPU, some 400 times a run); an app's tree does not change once its verbs are
# registered, so each app's is built once.
typer.testing._get_command = functools.cache(typer.main.get_command)

# Seconds each of the slowest modules took (`pytest --durations`, 2-core machine, 2026-12-06),
# a scheduling hint only: pytest-xdist hands whole modules to the test processes in collection
# order (`--dist loadfile --no-loadscope-reorder`), so the longest go first and the many quick
# ones fill the gaps at the end, and the processes finish together. A module not listed is quick.
SLOWEST_MODULES = {
    "tests/test_docker.py": 130,  # 45 s; 200 s on a new machine, which builds the image
    "tests/bench/test_soak.py": 100,
    "tests/test_demo.py": 70,
    "tests/flows/test_dnc_compliance.py": 55,
    "tests/bench/test_benchmarks.py": 50,
    "tests/bench/test_scale_bench.py": 49,
    "tests/test_kill_worker.py": 48,
    "tests/test_many_workers.py": 47,
    "tests/flows/test_run_stores.py": 42,
    "tests/test_server_outage.py": 30,
    "tests/multistore/test_cli.py": 23,
    "tests/flows/test_channel_sync.py": 20,
    "tests/test_deployments.py": 20,
    "tests/flows/test_store_pipeline.py": 19,
    "tests/test_git_pull.py": 18,
    "tests/multistore/test_registry.py": 14,
    "tests/flows/test_setup.py": 13,
    "tests/sandbox/test_crm_ui.py": 11,
    "tests/flows/test_slot_retry.py": 10,
    "tests/clients/test_crm_ui.py": 10,
    "tests/test_tick_workers.py": 9,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -SLOWEST_MODULES.get(item.nodeid.split("::")[0], 0))
