"""Write a file all or nothing: a reader (or a crashed run) never sees half of it.

The content goes to a temporary file in the target directory, is flushed and fsynced, then renamed
over the final name (atomic on one filesystem). On any error the temporary file is removed and the
old file, if there was one, is left as it was.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a handle on a temporary file beside `path`; renamed over `path` on success,
    unlinked on error."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes a whole file: mode {mode!r} is not 'w' or 'wb'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open(mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file, an fsync and a rename."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)
