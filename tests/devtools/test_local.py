"""The kill helpers of devtools/local.py, on real processes (a worker's death, a run's death)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

from devtools.local import flow_run_pids, kill_flow_run, spawn

# A parent that starts a child in a session of its own (as a process worker starts a flow run),
# prints the child's pid and waits.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def test_kill_takes_the_process_group_and_leaves_a_child_in_its_own_session(
    tmp_path: Path,
) -> None:
    log = tmp_path / "parent.log"
    parent = spawn("parent", [sys.executable, "-c", PARENT], env=dict(os.environ), log=log)
    child = None
    try:
        deadline = time.monotonic() + 30
        while not log.read_text().strip():  # polls for the child's pid
            assert time.monotonic() < deadline and parent.process.poll() is None
            time.sleep(0.05)
        child = int(log.read_text())
        parent.kill()
        assert parent.process.returncode == -9
        os.kill(child, 0)  # still alive: its own session
    finally:
        parent.stop()
        if child is not None:
            os.kill(child, 9)


def test_kill_flow_run_kills_exactly_the_processes_running_that_flow_run() -> None:
    run_id, other_id = str(uuid4()), str(uuid4())
    procs = {
        rid: subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            env={**os.environ, "PREFECT__FLOW_RUN_ID": rid},
        )
        for rid in (run_id, other_id)
    }
    try:
        assert flow_run_pids(run_id) == [procs[run_id].pid]
        assert kill_flow_run(run_id) == [procs[run_id].pid]
        assert procs[run_id].wait(10) == -9
        assert procs[other_id].poll() is None
        assert kill_flow_run(run_id) == []
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
