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
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from multistore.settings import get_settings

REPORT_KEY = "store-run-summary"
# The UI draws its tables and logs after the page's load event: each shot waits until what it
# must show is on the page (the run's name, a log line, the report's title), at most this long.
SHOWN_MS = 60_000


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


def a_store_run(api: str, parent_id: str) -> dict:
    runs = _post(
        api,
        "/flow_runs/filter",
        {"flow_runs": {"parent_flow_run_id": {"any_": [parent_id]}}, "sort": "START_TIME_ASC"},
    )
    if not runs:
        raise SystemExit(f"no store run under {parent_id}")
    return runs[0]


def flow_run(api: str, flow_run_id: str) -> dict:
    answer = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30)
    answer.raise_for_status()
    return answer.json()


def shoot(page: Page, url: str, path: Path, shows: list[str]) -> None:
    """Screenshot `url` once every text of `shows` is on the page (else exit naming it)."""
    page.goto(url, wait_until="networkidle")
    for text in shows:
        try:
            page.get_by_text(text).first.wait_for(state="visible", timeout=SHOWN_MS)
        except PlaywrightTimeout:
            raise SystemExit(f"{url}: {text!r} not shown within {SHOWN_MS // 1000} s") from None
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
    parent = flow_run(api, args.run or newest_parent(api))
    report = artifact_id(api, parent["id"], REPORT_KEY)
    store = a_store_run(api, parent["id"])
    store_id = store["parameters"]["store_id"]
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**get_settings().chromium_launch_options())
        page = browser.new_page(viewport={"width": 1440, "height": 1900})
        # Each page with its logs: the parent's selection line, the store's summary line.
        shoot(
            page,
            f"{ui}/runs/flow-run/{parent['id']}",
            args.out / "parent-run.png",
            [parent["name"], "stores selected"],
        )
        shoot(
            page,
            f"{ui}/artifacts/artifact/{report}",
            args.out / "report-artifact.png",
            ["Store run report"],
        )
        shoot(
            page,
            f"{ui}/runs/flow-run/{store['id']}",
            args.out / "store-run.png",
            [store["name"], f"store {store_id}: "],
        )
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
