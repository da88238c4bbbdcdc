"""Fixtures of the core tests: the registry on both of its databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from multistore.db import dispose_engines
from multistore.settings import get_settings
from tests.fixtures.postgres import create_pg_database, drop_pg_database, pg_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty registry (also set as MULTISTORE_DATABASE_URL for PostgreSQL): no rows;
    on PostgreSQL its tables exist already (a module that needs none overrides `pg_registry_url`
    with `pg_empty_registry_url`)."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_registry_url")
    return get_settings().registry_url


@pytest.fixture
def second_registry_url(
    registry_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Another empty registry on the same kind of database (for export → import): a new SQLite
    file without tables, or a PostgreSQL copy of the template (tables, no rows)."""
    if not registry_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    template = request.getfixturevalue("pg_registry_template")
    name = create_pg_database("multistore_test_second", template)
    yield pg_url(name)
    dispose_engines()
    drop_pg_database(name)
