"""Parquet outputs under the data directory: Hive-style partitions, written all or nothing.

A reader (or a crashed run) never sees half a file: the table is written to a temporary file in the
target directory, flushed to disk, then renamed over the final name (atomic on one filesystem).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def partition_path(
    root: Path, dataset: str, filename: str = "results.parquet", **keys: str
) -> Path:
    """`root/dataset/k1=v1/k2=v2/filename`, keys in the order given; a value that would escape
    its directory is refused naming the key."""
    path = Path(root) / dataset
    for key, value in keys.items():
        value = str(value)
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"partition key {key}: {value!r} is not a usable directory name")
        path = path / f"{key}={value}"
    return path / filename


def write_atomic(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` (without its index) to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    try:
        with temporary.open("wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
