"""Where one store run's files go, and writing them all or nothing (the jobs' one owner of paths).

Dated outputs land in Hive partitions `data/<dataset>/store_id=…/date=…/<file>`; a store's
undated state (e.g. its known short links) in `data/<dataset>/store_id=…/<file>`. Every write is
atomic (multistore.parquet): a reader or a crashed run never sees half a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from multistore.parquet import partition_path, write_atomic


@dataclass(frozen=True)
class Outputs:
    data_dir: Path
    store_id: str
    run_date: date

    def path(self, dataset: str, filename: str) -> Path:
        """This run's `filename` of `dataset`."""
        return partition_path(
            self.data_dir, dataset, filename, store_id=self.store_id, date=str(self.run_date)
        )

    def store_path(self, dataset: str, filename: str) -> Path:
        """The store's own `filename` of `dataset`, kept across runs."""
        return partition_path(self.data_dir, dataset, filename, store_id=self.store_id)

    def write(self, frame: pd.DataFrame, dataset: str, filename: str) -> Path:
        """Write this run's `filename` all or nothing; the path written."""
        return write_atomic(frame, self.path(dataset, filename))

    def write_store(self, frame: pd.DataFrame, dataset: str, filename: str) -> Path:
        """Write the store's own `filename` all or nothing; the path written."""
        return write_atomic(frame, self.store_path(dataset, filename))

    def read_store(self, dataset: str, filename: str) -> pd.DataFrame | None:
        """The store's own `filename`, or None before it was first written."""
        path = self.store_path(dataset, filename)
        return pd.read_parquet(path) if path.exists() else None
