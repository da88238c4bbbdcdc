"""The four inventory jobs of a dealer: HomeNet feed, Dealer.com reconciliation, detail pages,
short links. Each is a recipe of tasks (tasks/) and rules (multistore/inventory.py); outputs are
Parquet under data/inventory/store_id=…/date=…/, and each job returns its metrics.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from blocks.roles import load_store_block
from multistore.inventory import parse_price, reconcile, validate_homenet
from multistore.parquet import partition_path, write_atomic
from tasks.dealercom import fetch_listing
from tasks.homenet import download_homenet
from tasks.shortener import IncompleteShortening, shorten_urls
from tasks.vdp import scrape_pages

if TYPE_CHECKING:  # flows.jobs imports this module to register the jobs
    from flows.jobs import JobContext

DATASET = "inventory"


def homenet_feed(ctx: JobContext) -> dict[str, Any]:
    """Download the feed; good rows → vehicles.parquet, bad rows → rejects.parquet with reasons.

    Bad rows do not fail the job; an unreachable feed or one missing required columns does.
    """
    source = load_store_block(ctx.store, "inventory")
    text = download_homenet(source, ctx.store.id)
    feed = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    checked = validate_homenet(feed, source=f"store {ctx.store.id} HomeNet feed")
    vehicles = write_atomic(checked.vehicles, ctx.output(DATASET, "vehicles.parquet"))
    rejects = write_atomic(checked.rejects, ctx.output(DATASET, "rejects.parquet"))
    return {**checked.metrics, "vehicles_path": str(vehicles), "rejects_path": str(rejects)}


def dealercom_feed(ctx: JobContext) -> dict[str, Any]:
    """Page through the listing and reconcile it against HomeNet's vehicles."""
    vehicles = pd.read_parquet(ctx.upstream["homenet_feed"]["vehicles_path"])
    source = load_store_block(ctx.store, "inventory")
    listing = fetch_listing(source, ctx.store.id)
    result = reconcile(vehicles, listing)
    path = write_atomic(result.issues, ctx.output(DATASET, "reconciliation.parquet"))
    return {**result.metrics, "reconciliation_path": str(path)}


def vdp_scrape(ctx: JobContext) -> dict[str, Any]:
    """Read every vehicle's rendered detail page (price, features) in the browser pool."""
    vehicles = pd.read_parquet(ctx.upstream["homenet_feed"]["vehicles_path"])
    source = load_store_block(ctx.store, "inventory")
    base = f"{source.base_url.rstrip('/')}/vdp/{source.dealer_id}"
    urls = [f"{base}/{vin}" for vin in vehicles["VIN"]]
    scraped = scrape_pages(urls, ctx.store.id)
    pages = pd.DataFrame(scraped["pages"], columns=["url", "price", "features", "error", "seconds"])
    pages.insert(0, "vin", list(vehicles["VIN"]))
    pages["price_value"] = [_price_or_none(p) for p in pages["price"]]
    path = write_atomic(pages, ctx.output(DATASET, "vdp.parquet"))
    failed = int(pages["error"].notna().sum())
    return {
        "pages": len(pages),
        "rendered": len(pages) - failed,
        "page_errors": failed,
        "busy_seconds": round(scraped["busy_seconds"], 3),
        "slot_seconds": round(scraped["slot_seconds"], 3),
        "slot_from": scraped["slot_from"],
        "slot_until": scraped["slot_until"],
        "vdp_path": str(path),
    }


def url_shorten(ctx: JobContext) -> dict[str, Any]:
    """A short link for every scraped detail page; links made by earlier runs are reused."""
    pages = pd.read_parquet(ctx.upstream["vdp_scrape"]["vdp_path"])
    known_path = partition_path(ctx.data_dir, "shortlinks", "links.parquet", store_id=ctx.store.id)
    known = (
        pd.read_parquet(known_path)
        if known_path.exists()
        else pd.DataFrame({"url": [], "short_url": [], "code": []}, dtype=str)
    )
    urls = list(dict.fromkeys(pages["url"]))
    seen = set(known["url"])
    new_urls = [u for u in urls if u not in seen]
    service = load_store_block(ctx.store, "shortener")
    try:
        made = shorten_urls(service, new_urls, ctx.store.id)
    except IncompleteShortening as exc:
        _remember_links(known, exc.links, known_path)
        raise
    known = _remember_links(known, made, known_path)
    links = known[known["url"].isin(urls)]
    path = write_atomic(
        pages[["vin", "url"]].merge(links, on="url", how="left"),
        ctx.output(DATASET, "short_links.parquet"),
    )
    return {
        "urls": len(urls),
        "shortened": len(made),
        "reused": len(urls) - len(new_urls),
        "short_links_path": str(path),
    }


def _remember_links(known: pd.DataFrame, made: dict[str, dict], path: Path) -> pd.DataFrame:
    """`known` plus the links just `made`, written back when there are any."""
    if not made:
        return known
    fresh = pd.DataFrame([{"url": url, **link} for url, link in made.items()])
    known = pd.concat([known, fresh], ignore_index=True)
    write_atomic(known, path)
    return known


def _price_or_none(text: str | None) -> float | None:
    try:
        return parse_price(text)
    except ValueError:
        return None
