"""Parquet outputs: partition paths, atomic replacement, no temporary file left behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from multistore.atomic import atomic_open, write_bytes_atomic
from multistore.parquet import partition_path, write_atomic


def test_partition_path_is_hive_style(tmp_path: Path) -> None:
    path = partition_path(tmp_path, "compliance", store_id="sunset-ford", date="2026-11-23")
    assert path == tmp_path / "compliance/store_id=sunset-ford/date=2026-11-23/results.parquet"


@pytest.mark.parametrize("bad", ["", "..", "a/b"])
def test_partition_values_cannot_escape(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="partition key store_id"):
        partition_path(tmp_path, "compliance", store_id=bad)


def test_write_replaces_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.parquet"
    write_atomic(pd.DataFrame({"a": [1, 2]}), path)
    write_atomic(pd.DataFrame({"a": [3]}), path)
    assert pd.read_parquet(path)["a"].tolist() == [3]
    assert [p.name for p in path.parent.iterdir()] == ["results.parquet"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    write_atomic(pd.DataFrame({"a": [1]}), path)
    unwritable = pd.DataFrame({"a": [object()]})  # pyarrow cannot convert this column
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error type
        write_atomic(unwritable, path)
    assert pd.read_parquet(path)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]


def test_same_frame_writes_the_same_bytes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"contact_id": ["b", "a"], "callable": [True, False]})
    one = write_atomic(frame, tmp_path / "1.parquet").read_bytes()
    two = write_atomic(frame, tmp_path / "2.parquet").read_bytes()
    assert one == two


def test_atomic_write_error_removes_the_temporary_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = write_bytes_atomic(tmp_path / "out.bin", b"old")
    with pytest.raises(RuntimeError, match="midway"), atomic_open(path, "wb") as handle:
        handle.write(b"half")
        raise RuntimeError("midway")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
