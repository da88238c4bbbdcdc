"""The core stands alone: importing every module of multistore/ loads no Prefect and none of the
parts above it (flows, tasks, blocks, the composed command, the dev tools, the sandbox)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import multistore
for module in pkgutil.walk_packages(multistore.__path__, "multistore."):
    importlib.import_module(module.name)
above = {"prefect", "flows", "tasks", "blocks", "cli", "devtools", "sandbox"}
print(sorted({name.split(".")[0] for name in sys.modules} & above))
"""


def test_the_core_imports_nothing_above_it() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
