"""scripts/screenshots.py against a real Prefect server's UI with headless Chromium: a parent run,
its report artifact and a store run, each shot once its name and log lines are on the page."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from flows.run_stores import run_stores
from multistore.registry import Registry

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ("parent-run.png", "report-artifact.png", "store-run.png")


async def test_the_script_shoots_the_run_its_report_and_a_store_run(
    prefect_server, tmp_path: Path
) -> None:
    Registry().add("shot-a", jobs=[])
    state = await run_stores(stores=["shot-a"], return_state=True)
    assert state.is_completed(), state.message
    out = tmp_path / "img"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "screenshots.py"),
            "--ui",
            prefect_server.url.removesuffix("/api"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in SHOTS:
        with Image.open(out / name) as shot:
            assert shot.width == 1440 and shot.height >= 1900, (name, shot.size)
            # A drawn page, not a blank or an error screen: many colours, none all over it.
            pixels = list(shot.convert("RGB").resize((144, 190)).getdata())
        colours = Counter(pixels)
        assert len(colours) > 50, (name, len(colours))
        assert colours.most_common(1)[0][1] < 0.9 * len(pixels), name
