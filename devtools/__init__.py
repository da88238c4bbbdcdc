"""Tools for running multistore on one machine: the demo, the local processes it starts (a Prefect
server, workers, the sandbox) and throwaway PostgreSQL databases. The demo, the benchmarks and
the tests use them; a deployment does not."""

import sys
from pathlib import Path

# The `prefect` command of this interpreter's environment, whether or not it is on PATH.
PREFECT = str(Path(sys.executable).with_name("prefect"))
