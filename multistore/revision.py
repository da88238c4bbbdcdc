"""Which code a run ran: the project directory it was loaded from and that directory's commit.

Workers get the code three ways (docs/deployments.md): the checkout itself, a git clone at a pinned
commit, or an image. The run report names the one that ran, so "which code did last night run"
has an answer on every machine. An image has no .git: its build writes the commit to REVISION.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REVISION_FILE = "REVISION"


def code_revision(root: Path = ROOT) -> str | None:
    """The commit of `root` (its REVISION file, else git), or None when neither says."""
    stamp = root / REVISION_FILE
    if stamp.is_file():
        return stamp.read_text().strip() or None
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


def code_identity(root: Path = ROOT) -> dict[str, str | None]:
    """What goes in a run report: where the code was loaded from and its commit."""
    return {"root": str(root), "revision": code_revision(root)}
