"""The url_shorten job keeps every link the vendor made, even when a later URL fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from blocks.inventory import ShortenerService
from flows.inventory import url_shorten
from flows.jobs import JobContext
from multistore.clients.shortener import IncompleteShortening
from multistore.pools import load_pools
from multistore.registry import Registry
from tasks.pools import ensure_pools

pytestmark = [pytest.mark.prefect]

STORE = "short-links-store"


def _context(data_dir: Path, urls: list[str]) -> JobContext:
    pages = data_dir / "pages.parquet"
    pages.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"vin": [f"VIN{n}" for n in range(len(urls))], "url": urls}).to_parquet(pages)
    return JobContext(
        store=Registry().get(STORE),
        run_date=datetime.now(UTC).date(),
        data_dir=data_dir,
        upstream={"vdp_scrape": {"vdp_path": str(pages)}},
    )


def test_links_made_before_a_failure_are_kept_and_reused(
    prefect_server, sandbox, isolated_settings
) -> None:
    asyncio.run(ensure_pools(load_pools()))
    ShortenerService(base_url=sandbox.url, api_key="sandbox-shortener-key").save(
        "shortener-default", overwrite=True
    )
    Registry().add(STORE)
    good = [f"{sandbox.url}/vdp/{STORE}/{n}" for n in range(2)]

    # The third URL is refused (400, not retried): the job fails, naming it...
    with pytest.raises(
        IncompleteShortening, match=r"HTTP 400.*\(2 links made before it were kept\)"
    ):
        url_shorten(_context(isolated_settings, [*good, "not-a-url"]))
    assert sandbox.admin.vendor_counts("shortener")["requests"] == 3

    # ...and the next run pays only for what it has not shortened yet.
    sandbox.admin.reset_counters()
    third = f"{sandbox.url}/vdp/{STORE}/2"
    metrics = url_shorten(_context(isolated_settings, [*good, third]))
    assert (metrics["reused"], metrics["shortened"]) == (2, 1)
    assert sandbox.admin.vendor_counts("shortener")["requests"] == 1
