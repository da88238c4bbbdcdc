"""Throwaway PostgreSQL databases, for the tests, the benchmarks and the many-workers checks.

The server is the one in `MULTISTORE_PG_ADMIN_URL` (default: 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from multistore.settings import get_settings


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server cannot be reached; the message names it."""


def _admin_engine() -> Engine:
    return create_engine(get_settings().pg_admin_url, isolation_level="AUTOCOMMIT")


@contextmanager
def _admin() -> Iterator[Connection]:
    """A connection to the admin database; an unreachable server is PostgresUnavailable."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        raise PostgresUnavailable(
            f"PostgreSQL at {get_settings().pg_admin_url} is not reachable: {exc.orig}"
        ) from None
    finally:
        engine.dispose()


def create_database(prefix: str) -> str:
    """Create an empty database named `<prefix>_<random>` and return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return name


def ensure_database(name: str) -> bool:
    """Create database `name` unless it exists; True when it was created."""
    with _admin() as conn:
        query = text("SELECT 1 FROM pg_database WHERE datname = :name")
        if conn.execute(query, {"name": name}).first():
            return False
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        return True


def drop_database(name: str) -> None:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def database_url(name: str, driver: str = "psycopg") -> str:
    """The URL of database `name` with `driver` (psycopg for the registry, asyncpg for Prefect)."""
    base = get_settings().pg_admin_url.rsplit("/", 1)[0]
    return f"{base.replace('postgresql+psycopg', f'postgresql+{driver}')}/{name}"
