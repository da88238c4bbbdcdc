"""Shared fixtures live in tests/fixtures/, one module per outside part."""

pytest_plugins = [
    "tests.fixtures.settings",
    "tests.fixtures.postgres",
    "tests.fixtures.prefect_server",
    "tests.fixtures.sandbox",
    "tests.fixtures.docker",
]
