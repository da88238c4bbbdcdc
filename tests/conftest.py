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
    "tests/test_docker.py": 130,  # 60 s; 240 s on a new machine, which builds the image
    "tests/bench/test_soak.py": 130,
    "tests/test_demo.py": 105,
    "tests/test_git_pull.py": 105,
    "tests/test_kill_worker.py": 100,
    "tests/flows/test_run_stores.py": 100,
    "tests/bench/test_scale_bench.py": 95,
    "tests/test_many_workers.py": 75,
    "tests/bench/test_benchmarks.py": 65,
    "tests/multistore/test_cli.py": 60,
    "tests/flows/test_dnc_compliance.py": 60,
    "tests/flows/test_store_pipeline.py": 50,
    "tests/test_deployments.py": 40,
    "tests/test_tick_workers.py": 40,
    "tests/test_server_outage.py": 40,
    "tests/flows/test_setup.py": 25,
    "tests/flows/test_channel_sync.py": 25,
    "tests/multistore/test_registry.py": 20,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -SLOWEST_MODULES.get(item.nodeid.split("::")[0], 0))
