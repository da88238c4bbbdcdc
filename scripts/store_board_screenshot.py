"""Take docs/images/store-board.png: the store board as the Prefect UI shows it.

    python scripts/store_board_screenshot.py [OUT]

Starts its own Prefect server (temporary home, free port) and registry (the example stores, a
few runs recorded so the board has outcomes), publishes the board, opens the artifact's page in
headless Chromium and saves a screenshot; stops the server it started.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> int:
    home = Path(tempfile.mkdtemp(prefix="multistore-board-"))
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ["MULTISTORE_DATA_DIR"] = str(home / "data")
    os.environ.pop("MULTISTORE_DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    from devtools.local import start_prefect_server

    server = start_prefect_server(home / "prefect")
    os.environ["PREFECT_API_URL"] = server.url
    try:
        _registry()
        asyncio.run(_publish())
        _screenshot(server.url.removesuffix("/api"), out)
    finally:
        server.stop()
    print(f"wrote {out}")
    return 0


def _registry() -> None:
    from multistore.config import load_store_file
    from multistore.registry import Registry

    registry = Registry()
    registry.import_stores(load_store_file(ROOT / "data" / "stores.example.yaml"), merge=True)
    stores = [s.id for s in registry.list()]
    for n, store_id in enumerate(stores[:6]):
        run_id = registry.start_run(store_id, None)
        failed = n % 3 == 2
        error = f"homenet for store {store_id}: HTTP 503 on GET /feed after 6 attempts"
        registry.finish_run(run_id, "failed" if failed else "completed", error if failed else None)
    for _ in range(3):
        registry.record_outcome(stores[2], False, "homenet: HTTP 503", threshold=3)


async def _publish() -> None:
    from prefect import flow

    from flows.run_stores import publish_board

    # As a parent run does it: the board attached to a flow run.
    await flow(name="store-board", log_prints=False)(publish_board)()


def _screenshot(ui: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from multistore.settings import get_settings

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**get_settings().chromium_launch_options())
        page = browser.new_page(viewport={"width": 2300, "height": 900})
        page.goto(f"{ui}/artifacts/key/store-board", wait_until="networkidle")
        # The key's page lists its versions (the board's history); the newest shows the table.
        page.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$")).first.click()
        try:
            page.get_by_text("sunset-ford").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)  # the table's fonts and widths settle
        finally:
            page.screenshot(path=str(out), full_page=True)
        browser.close()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/images/store-board.png"))
