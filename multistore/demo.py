"""`make demo`: load the example stores into the registry and show `multistore status`.

Loading merges, so running the demo again changes nothing (and keeps quarantines and run times).
"""

from __future__ import annotations

import sys
from pathlib import Path

from multistore.config import ConfigError, load_store_file
from multistore.registry import Registry, RegistryError

EXAMPLE_STORES = Path(__file__).resolve().parent.parent / "data" / "stores.example.yaml"


def load_example_stores(path: Path = EXAMPLE_STORES) -> dict[str, list[str]]:
    return Registry().import_stores(load_store_file(path), merge=True)


def main() -> int:
    try:
        summary = load_example_stores()
    except (ConfigError, RegistryError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(
        f"example stores from {EXAMPLE_STORES.name}: {len(summary['added'])} added, "
        f"{len(summary['updated'])} refreshed"
    )
    from multistore.cli import app

    return app(["status"], standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
