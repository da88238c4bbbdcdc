"""Every log record made during a store's run carries `store_id` and `flow_run_id` as fields.

`bind(store_id, flow_run_id)` marks the current context (and the task threads it spawns, which
copy it) as that store's run. A log record factory puts `store_id` on every record created there,
whichever logger made it (ours, Prefect's, httpx's); a filter on the handlers adds `flow_run_id`
where the record has none (Prefect's run loggers already pass it as `extra`, and a factory that
set it too would make their `extra` collide).
`MULTISTORE_LOG_FORMAT=json` makes the console handlers write one JSON object per line, with
those fields, for log shippers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from multistore.settings import get_settings

_run: ContextVar[tuple[str, str | None] | None] = ContextVar("multistore_store_run", default=None)
_installed = False
# Attributes every LogRecord has; anything else on a record is an extra field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextmanager
def bind(store_id: str, flow_run_id: str | None) -> Iterator[None]:
    """Within this block, every log record carries `store_id` and `flow_run_id`."""
    install()
    _filter_handlers()  # handlers added since the last run get the filter too
    token = _run.set((store_id, flow_run_id))
    try:
        yield
    finally:
        _run.reset(token)


def install() -> None:
    """Install the record factory (once) and, when configured, the JSON console format."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        current = _run.get()
        if current is not None:
            record.store_id = current[0]
        return record

    logging.setLogRecordFactory(factory)
    if get_settings().log_format == "json":
        for name in (None, "prefect"):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setFormatter(JsonFormatter())


class _FlowRunField(logging.Filter):
    """Adds the bound run's `flow_run_id` to a record that has none (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _run.get()
        if current is not None and getattr(record, "flow_run_id", None) is None:
            record.flow_run_id = current[1]
        return True


_FIELD_FILTER = _FlowRunField()


def _filter_handlers() -> None:
    loggers = [logging.getLogger()] + [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if _FIELD_FILTER not in handler.filters:
                handler.addFilter(_FIELD_FILTER)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)
