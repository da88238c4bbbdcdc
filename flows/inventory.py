"""The four inventory jobs of a dealer: HomeNet feed, Dealer.com reconciliation, detail pages,
short links. Each is a recipe of one task (tasks/inventory.py, through the store's client) and
rules (multistore/inventory.py); outputs are Parquet under data/inventory/store_id=…/date=…/ (the
context's `outputs`), and each job returns its metrics.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pandas as pd

from multistore.clients.shortener import IncompleteShortening
from multistore.inventory import parse_price, reconcile, validate_homenet
from multistore.outputs import Outputs
from tasks.inventory import download_homenet, fetch_listing, scrape_pages, shorten_urls

if TYPE_CHECKING:  # flows.jobs imports this module to register the jobs
    from flows.jobs import JobContext

DATASET = "inventory"
LINKS = ("shortlinks", "links.parquet")


def homenet_feed(ctx: JobContext) -> dict[str, Any]:
    """Download the feed; good rows → vehicles.parquet, bad rows → rejects.parquet with reasons.

    Bad rows do not fail the job; an unreachable feed or one missing required columns does.
    """
    text = ctx.run(download_homenet, ctx.clients.homenet())
    feed = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    checked = validate_homenet(feed, source=f"store {ctx.store.id} HomeNet feed")
    vehicles = ctx.outputs.write(checked.vehicles, DATASET, "vehicles.parquet")
    rejects = ctx.outputs.write(checked.rejects, DATASET, "rejects.parquet")
    return {**checked.metrics, "vehicles_path": str(vehicles), "rejects_path": str(rejects)}


def dealercom_feed(ctx: JobContext) -> dict[str, Any]:
    """Page through the listing and reconcile it against HomeNet's vehicles."""
    vehicles = pd.read_parquet(ctx.upstream["homenet_feed"]["vehicles_path"])
    listing = ctx.run(fetch_listing, ctx.clients.dealercom())
    result = reconcile(vehicles, listing)
    path = ctx.outputs.write(result.issues, DATASET, "reconciliation.parquet")
    return {**result.metrics, "reconciliation_path": str(path)}


def vdp_scrape(ctx: JobContext) -> dict[str, Any]:
    """Read every vehicle's rendered detail page (price, features) in the browser pool."""
    vehicles = pd.read_parquet(ctx.upstream["homenet_feed"]["vehicles_path"])
    client = ctx.clients.vdp()
    scraped = ctx.run(scrape_pages, client, client.urls(list(vehicles["VIN"])))
    pages = pd.DataFrame(scraped["pages"], columns=["url", "price", "features", "error", "seconds"])
    pages.insert(0, "vin", list(vehicles["VIN"]))
    pages["price_value"] = [_price_or_none(p) for p in pages["price"]]
    path = ctx.outputs.write(pages, DATASET, "vdp.parquet")
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
    known = ctx.outputs.read_store(*LINKS)
    if known is None:
        known = pd.DataFrame({"url": [], "short_url": [], "code": []}, dtype=str)
    urls = list(dict.fromkeys(pages["url"]))
    seen = set(known["url"])
    new_urls = [u for u in urls if u not in seen]
    try:
        made = ctx.run(shorten_urls, ctx.clients.shortener(), new_urls)
    except IncompleteShortening as exc:
        _remember_links(known, exc.links, ctx.outputs)
        raise
    known = _remember_links(known, made, ctx.outputs)
    links = known[known["url"].isin(urls)]
    path = ctx.outputs.write(
        pages[["vin", "url"]].merge(links, on="url", how="left"), DATASET, "short_links.parquet"
    )
    return {
        "urls": len(urls),
        "shortened": len(made),
        "reused": len(urls) - len(new_urls),
        "short_links_path": str(path),
    }


def _remember_links(known: pd.DataFrame, made: dict[str, dict], outputs: Outputs) -> pd.DataFrame:
    """`known` plus the links just `made`, written back when there are any."""
    if not made:
        return known
    fresh = pd.DataFrame([{"url": url, **link} for url, link in made.items()])
    known = pd.concat([known, fresh], ignore_index=True)
    outputs.write_store(known, *LINKS)
    return known


def _price_or_none(text: str | None) -> float | None:
    try:
        return parse_price(text)
    except ValueError:
        return None
