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
    "tests/test_docker.py": 200,  # most of it builds the image on a new machine
    "tests/bench/test_scale_bench.py": 150,
    "tests/bench/test_benchmarks.py": 130,
    "tests/test_demo.py": 115,
    "tests/bench/test_soak.py": 110,
    "tests/flows/test_store_pipeline.py": 100,
    "tests/test_kill_worker.py": 100,
    "tests/test_many_workers.py": 60,
    "tests/flows/test_run_stores.py": 80,
    "tests/flows/test_dnc_compliance.py": 75,
    "tests/flows/test_channel_sync.py": 75,
    "tests/test_server_outage.py": 70,
    "tests/flows/test_setup.py": 60,
    "tests/test_deployments.py": 50,
    "tests/test_tick_workers.py": 45,
    "tests/test_git_pull.py": 45,
    "tests/flows/test_slot_retry.py": 40,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -SLOWEST_MODULES.get(item.nodeid.split("::")[0], 0))
