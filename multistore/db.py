"""The registry's database: one engine per URL, schema created and upgraded on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Lock

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from multistore.schema import ensure_schema
from multistore.settings import get_settings

_engines: dict[str, Engine] = {}
# Two threads asking for the same URL at once must not build (and upgrade with) two engines.
_engines_lock = Lock()


class DatabaseUnavailable(RuntimeError):
    """The registry's database cannot be reached; the message names it (without a password)."""


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: the configured registry), with every table created and
    upgraded.

    `create_all` only adds missing tables, and `schema.ensure_schema` then adds the columns an
    older database lacks, for every table; both are safe to repeat; see the README on upgrades.
    """
    url = url or get_settings().registry_url
    engine = _engines.get(url)
    if engine is not None:
        return engine
    _import_models()  # outside the lock: importing a module may itself open the registry
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _build_engine(url)
            _engines[url] = engine
        return engine


def _build_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Several Prefect task threads and worker processes share the file: wait, don't fail.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    try:
        _create_tables(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        where = parsed.render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"registry database {where} is not reachable: {reason}") from None
    try:
        # Every table, not only the registry's: circuit_breakers gets its new columns too.
        ensure_schema(engine, SQLModel.metadata.sorted_tables)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _create_tables(engine: Engine) -> None:
    """`create_all`, tolerating workers that create the same tables at the same moment."""
    # One pass per table at most: with many tables, workers racing can each lose on a different
    # table in one pass, so three passes were not always enough.
    passes = max(3, len(SQLModel.metadata.tables))
    for attempt in range(passes):
        try:
            SQLModel.metadata.create_all(engine)
            return
        except DBAPIError as exc:
            # The loser of the race sees "already exists"; the next pass finds the tables.
            if attempt == passes - 1 or "already exists" not in str(exc.orig):
                raise


def _import_models() -> None:
    """Import every module that defines tables, so `create_all` and `ensure_schema` see them
    all."""
    import importlib

    for module in (
        "multistore.registry",
        "multistore.breaker",
        "multistore.claims",
        "multistore.leases",
        "multistore.pacer",
        "multistore.network.models",
        "multistore.channels.tables",
    ):
        importlib.import_module(module)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def dispose_engine(url: str) -> None:
    """Close `url`'s connections and forget its engine; the others stay open."""
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
