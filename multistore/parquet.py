"""Parquet outputs under the data directory: Hive-style partitions, written all or nothing.

A reader (or a crashed run) never sees half a file: the table is written to a temporary file in the
target directory, flushed to disk, then renamed over the final name (atomic on one filesystem);
see `multistore.atomic`, which the run reports share.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from multistore.atomic import atomic_open


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
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)
    return path
