"""Moved to devtools/local.py. Kept only for bench/dnc_pool.py and bench/fanout.py, whose owner
switches their imports to devtools; delete this file then (nothing else imports it)."""

from devtools.local import PREFECT_SERVER_ENV, spawn, start_prefect_server

__all__ = ["PREFECT_SERVER_ENV", "spawn", "start_prefect_server"]
