"""The compliance results as Parquet, written once at the end of a run (temp file, then rename)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from multistore.parquet import write_atomic


@task(name="write-compliance-results", cache_policy=NONE)
def write_results(frame: pd.DataFrame, path: str) -> str:
    """Write `frame` to `path` all or nothing; the path written."""
    return str(write_atomic(frame, Path(path)))
