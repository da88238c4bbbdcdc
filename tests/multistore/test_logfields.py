"""Log fields in-process: bound records carry store_id and flow_run_id; JSON lines show them."""

from __future__ import annotations

import json
import logging
import threading
from contextvars import copy_context

from multistore import logfields


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logfields.JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


def test_bound_records_carry_the_store_in_threads_too_and_json_shows_it() -> None:
    logger = logging.getLogger("multistore.test.logfields")
    logger.setLevel(logging.INFO)
    capture = Capture()
    logger.addHandler(capture)
    try:
        logger.info("before")
        with logfields.bind("north", "run-1"):
            logger.info("inside %s", "x")
            # Prefect's run loggers pass flow_run_id as extra: it must not collide.
            logger.info("from prefect", extra={"flow_run_id": "run-1"})
            context = copy_context()  # what Prefect's task runner does for each task thread
            thread = threading.Thread(target=context.run, args=(logger.info, "in a task"))
            thread.start()
            thread.join()
        logger.info("after")
    finally:
        logger.removeHandler(capture)
    fields = [
        (getattr(r, "store_id", None), getattr(r, "flow_run_id", None)) for r in capture.records
    ]
    assert fields == [
        (None, None),
        ("north", "run-1"),
        ("north", "run-1"),
        ("north", "run-1"),
        (None, None),
    ]
    line = json.loads(capture.lines[1])
    assert line["message"] == "inside x" and line["store_id"] == "north"
    assert line["flow_run_id"] == "run-1" and line["level"] == "INFO"
