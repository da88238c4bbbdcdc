"""Screenshots of a run in the Prefect UI, with headless Chromium, for the docs.

    python scripts/screenshots.py [--ui http://127.0.0.1:4200] [--run FLOW_RUN_ID] [--out docs/img]

Takes the parent run's page (its logs), its report artifact and one store run's page (its logs
and job table). Without --run, the newest run-stores flow run. Against a running `make demo`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from multistore.settings import get_settings

SETTLE_MS = 4000
REPORT_KEY = "store-run-summary"  # the UI draws its tables and logs after the page's load event


def _post(api: str, path: str, body: dict) -> list[dict]:
    answer = httpx.post(f"{api}{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def newest_parent(api: str) -> str:
    """The newest parent run with a report (scheduled nightly runs have none yet)."""
    artifacts = _post(
        api,
        "/artifacts/filter",
        {"artifacts": {"key": {"any_": [REPORT_KEY]}}, "sort": "CREATED_DESC", "limit": 1},
    )
    if not artifacts:
        raise SystemExit("no run-stores run with a report on this server")
    return artifacts[0]["flow_run_id"]


def artifact_id(api: str, flow_run_id: str, key: str) -> str:
    artifacts = _post(
        api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
    )
    for artifact in artifacts:
        if artifact.get("key") == key:
            return artifact["id"]
    raise SystemExit(f"flow run {flow_run_id} has no artifact {key!r}")


def a_store_run(api: str, parent_id: str) -> str:
    runs = _post(
        api,
        "/flow_runs/filter",
        {"flow_runs": {"parent_flow_run_id": {"any_": [parent_id]}}, "sort": "START_TIME_ASC"},
    )
    if not runs:
        raise SystemExit(f"no store run under {parent_id}")
    return runs[0]["id"]


def shoot(page: Page, url: str, path: Path) -> None:
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(SETTLE_MS)
    page.screenshot(path=str(path), full_page=True)
    print(f"{path}  ←  {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui", default="http://127.0.0.1:4200")
    parser.add_argument("--run", help="the parent flow run id (default: the newest run-stores)")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    ui = args.ui.rstrip("/")
    api = f"{ui}/api"
    parent = args.run or newest_parent(api)
    report = artifact_id(api, parent, REPORT_KEY)
    store = a_store_run(api, parent)
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**get_settings().chromium_launch_options())
        page = browser.new_page(viewport={"width": 1440, "height": 1900})
        shoot(page, f"{ui}/runs/flow-run/{parent}", args.out / "parent-run.png")
        shoot(page, f"{ui}/artifacts/artifact/{report}", args.out / "report-artifact.png")
        shoot(page, f"{ui}/runs/flow-run/{store}", args.out / "store-run.png")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
