"""Moved to devtools/pgadmin.py. Kept only for bench/fanout.py, whose owner switches its import
to devtools; delete this file then (nothing else imports it)."""

from devtools.pgadmin import create_database, database_url, drop_database

__all__ = ["create_database", "database_url", "drop_database"]
