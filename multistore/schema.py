"""Additive schema upgrades: a newer model never loses an older database's rows.

`create_all` (multistore.db) creates missing tables but never touches existing ones. This step then
compares each existing table with its model and adds the missing columns with `ALTER TABLE … ADD
COLUMN`, filling them with the model's default. Columns are only ever added: renaming or dropping
one needs a hand-written step here, never a silent rebuild.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from threading import Lock
from typing import Any

from sqlalchemy import Table, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import Column

_done: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = Lock()


def ensure_schema(engine: Engine, tables: Iterable[Table]) -> list[str]:
    """Add the columns `tables` declare but the database lacks; returns "table.column" added.

    Runs once per engine per process; safe to repeat and to race (a column another process added
    first is skipped).
    """
    tables = list(tables)
    with _lock:
        if engine in _done:
            return []
        present = _create_missing_tables(engine, tables)
        added = [
            name
            for table in tables
            if table.name in present
            for name in _add_missing_columns(engine, table, present[table.name])
        ]
        _done.add(engine)
        return added


def _create_missing_tables(engine: Engine, tables: list[Table]) -> dict[str, set[str]]:
    """Create the tables the database lacks; the columns of those it had, by table name.

    One look at the catalog for every table, not a few queries per table: on PostgreSQL those
    were most of the CPU of opening a registry (each process and CLI command does it once).
    """
    with engine.connect() as conn:
        inspector = inspect(conn)
        existing = set(inspector.get_table_names()) & {table.name for table in tables}
        for table in tables:
            if table.name not in existing:
                table.create(conn, checkfirst=True)
        conn.commit()
        columns = inspector.get_multi_columns(filter_names=sorted(existing)) if existing else {}
    return {name: {column["name"] for column in cols} for (_, name), cols in columns.items()}


def _add_missing_columns(engine: Engine, table: Table, present: set[str]) -> list[str]:
    added = []
    for column in table.columns:
        if column.name in present:
            continue
        # One transaction per column: if another process adds it first, only this one fails.
        try:
            with engine.begin() as conn:
                _add_column(conn, table, column)
        except DBAPIError:
            with engine.connect() as conn:
                if column.name not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
                    raise
            continue
        added.append(f"{table.name}.{column.name}")
    return added


def _add_column(conn: Connection, table: Table, column: Column) -> None:
    if column.primary_key:
        raise RuntimeError(
            f"table {table.name}: primary key column {column.name!r} is missing; "
            "this database needs a hand-written migration"
        )
    preparer = conn.dialect.identifier_preparer
    column_type = column.type.compile(dialect=conn.dialect)
    # Added as nullable: existing rows get the default below, and NOT NULL without a server-side
    # default would be refused on a table that has rows.
    conn.execute(
        text(
            f"ALTER TABLE {preparer.format_table(table)} "
            f"ADD COLUMN {preparer.format_column(column)} {column_type}"
        )
    )
    default = _default_value(column)
    if default is not None:
        conn.execute(table.update().where(column.is_(None)).values({column.name: default}))


def _default_value(column: Column) -> Any:
    default = column.default
    if default is None:
        return None
    if getattr(default, "is_callable", False):
        return default.arg(None)
    if getattr(default, "is_scalar", False):
        return default.arg
    return None


def forget_schema_checks() -> None:
    """Tests that rebuild a database under the same engine object call this."""
    with _lock:
        _done.clear()
