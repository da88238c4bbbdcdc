"""Throwaway PostgreSQL databases, for the tests, the benchmarks and the many-workers checks.

The server is the one in `MULTISTORE_PG_ADMIN_URL` (default: 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from multistore.settings import get_settings


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server cannot be reached; the message names it."""


@cache
def _admin_engine(url: str) -> Engine:
    """One engine (and pooled connection) per admin URL per process: a test run creates and drops
    hundreds of databases, and a new engine and connection for each cost CPU for nothing."""
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@contextmanager
def _admin() -> Iterator[Connection]:
    """A connection to the admin database; an unreachable server is PostgresUnavailable."""
    url = get_settings().pg_admin_url
    try:
        with _admin_engine(url).connect() as conn:
            yield conn
    except OperationalError as exc:
        raise PostgresUnavailable(f"PostgreSQL at {url} is not reachable: {exc.orig}") from None


def create_database(prefix: str, template: str | None = None) -> str:
    """Create a database named `<prefix>_<random>` and return its name: empty, or a copy of
    database `template` (which must have no open connections)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _create(name, template)
    return name


def database_exists(name: str) -> bool:
    with _admin() as conn:
        query = text("SELECT 1 FROM pg_database WHERE datname = :name")
        return conn.execute(query, {"name": name}).first() is not None


def ensure_database(name: str, template: str | None = None) -> bool:
    """Create database `name` (empty, or a copy of `template`) unless it exists; True when it was
    created."""
    if database_exists(name):
        return False
    _create(name, template)
    return True


def _create(name: str, template: str | None) -> None:
    copy = f' TEMPLATE "{template}"' if template else ""
    with _admin() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))


def rename_database(name: str, new_name: str) -> None:
    with _admin() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{new_name}"'))


@contextmanager
def advisory_lock(name: str) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock for `name` (one holder at a time, across processes and
    machines on the same server); released when the block ends, or when the process dies."""
    key = zlib.crc32(name.encode())
    with _admin() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def drop_database(name: str) -> None:
    with _admin_engine(get_settings().pg_admin_url).connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_url(name: str, driver: str = "psycopg") -> str:
    """The URL of database `name` with `driver` (psycopg for the registry, asyncpg for Prefect)."""
    base = get_settings().pg_admin_url.rsplit("/", 1)[0]
    return f"{base.replace('postgresql+psycopg', f'postgresql+{driver}')}/{name}"
