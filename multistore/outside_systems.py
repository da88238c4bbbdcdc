"""Do a store's outside systems answer: the vendors its jobs call, as its block documents say.

For `/health`. The endpoints are read from the Prefect server over REST (one call per block type,
secrets left out: only the non-secret `base_url` is read), then each distinct base URL is probed
once with a HEAD request and a short timeout. Any HTTP answer, whatever its status, means the
system answers (a 401 or 404 to a bare HEAD is still a live vendor); a connection refused, a
timeout or a TLS failure means it does not. Only scheme, host, port and path of a URL are ever
shown: a user or token in a URL stays out of the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from multistore.config import default_blocks
from multistore.prefect_api import PrefectAPI

PROBE_TIMEOUT = httpx.Timeout(3.0)

# The block roles each job reads its endpoints from (blocks/roles.py has the block classes).
JOB_ROLES: dict[str, tuple[str, ...]] = {
    "homenet_feed": ("inventory",),
    "dealercom_feed": ("inventory",),
    "vdp_scrape": ("inventory",),
    "url_shorten": ("shortener",),
    "dnc_compliance": ("crm", "dnc"),
}
# Each role's block type, as blocks/ registers it (a test keeps the two in step).
ROLE_SLUGS = {
    "crm": "crm-credentials",
    "dnc": "dnc-service",
    "inventory": "inventory-sources",
    "shortener": "shortener-service",
}


@dataclass(frozen=True)
class Probe:
    answers: bool
    detail: str  # "HTTP 200" or why not


def roles_of(jobs: Iterable[str]) -> list[str]:
    """The block roles a store with these jobs uses, in job order, once each."""
    return list(dict.fromkeys(role for job in jobs for role in JOB_ROLES.get(job, ())))


def shown(url: str) -> str:
    """The URL without user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")


def probe(url: str) -> Probe:
    """One HEAD to `url`: does anything answer there?"""
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=False) as http:
            response = http.head(url)
    except httpx.HTTPError as exc:
        return Probe(False, f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no answer'}")
    return Probe(True, f"HTTP {response.status_code}")


def check_systems(
    stores: Iterable[Any],
    *,
    prefect: PrefectAPI,
    prober: Callable[[str], Probe] = probe,
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[dict[str, Any]]]:
    """Per store {role: {block, url, answers, detail}}, and per distinct URL
    {url, answers, detail, roles, stores}. Raises PrefectUnavailable when the blocks cannot be
    read."""
    stores = list(stores)
    wanted = {store.id: roles_of(store.jobs or []) for store in stores}
    slugs = sorted({ROLE_SLUGS[role] for roles in wanted.values() for role in roles})
    urls = {
        (slug, doc["name"]): doc["data"].get("base_url")
        for slug in slugs
        for doc in prefect.block_documents(slug)
    }
    per_store: dict[str, dict[str, dict[str, Any]]] = {}
    for store in stores:
        names = {**default_blocks(store.id), **(store.blocks or {})}
        per_store[store.id] = {}
        for role in wanted[store.id]:
            url = urls.get((ROLE_SLUGS[role], names[role]))
            per_store[store.id][role] = {"block": names[role], "url": url}
    targets = sorted({s["url"] for rows in per_store.values() for s in rows.values() if s["url"]})
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = dict(zip(targets, pool.map(prober, targets), strict=True))
    systems: dict[str, dict[str, Any]] = {}
    for rows in per_store.values():
        for role, row in rows.items():
            url = row["url"]
            if url is None:
                row.update(answers=False, detail=f"block document {row['block']!r} not found")
                continue
            found = probes[url]
            row.update(url=shown(url), answers=found.answers, detail=found.detail)
            system = systems.setdefault(
                row["url"],
                {"url": row["url"], "answers": found.answers, "detail": found.detail, "roles": []},
            )
            if role not in system["roles"]:
                system["roles"].append(role)
            system["stores"] = system.get("stores", 0) + 1
    return per_store, sorted(systems.values(), key=lambda s: s["url"])
