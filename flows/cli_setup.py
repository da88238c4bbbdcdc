"""`multistore setup` and `multistore run-store STORE` (a plugin of multistore.cli).

Prefect is imported inside the commands, so the rest of the CLI stays fast.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from multistore.cli_output import console, fail


def register(app: typer.Typer) -> None:
    @app.command("setup")
    def setup_command(
        pools_file: Annotated[
            Path | None, typer.Option("--pools", help="Pools file (default data/pools.yaml).")
        ] = None,
        sandbox_url: Annotated[
            str | None, typer.Option(help="Point the blocks here (default: settings).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Register block types, save every store's block documents, create the pools."""
        from flows.setup import setup

        try:
            summary = asyncio.run(setup(sandbox_url=sandbox_url, pools_file=pools_file))
        except Exception as exc:
            fail(f"setup: {exc}")
        if as_json:
            print(json.dumps(summary, indent=2))
            return
        console.print(
            f"setup: {len(summary['block_types'])} block types, "
            f"{len(summary['documents'])} block documents, {len(summary['pools'])} pools, "
            f"{len(summary['alerts'])} alerts "
            f"(sandbox {summary['sandbox_url']})"
        )

    @app.command("run-store")
    def run_store_command(
        store: Annotated[str, typer.Argument(help="The store's id.")],
        jobs: Annotated[
            str | None, typer.Option(help="Comma-separated jobs (default: the store's own).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Run one store's pipeline now, by hand (one Prefect flow run)."""
        from flows.store_pipeline import store_pipeline
        from multistore.registry import Registry

        only = None if jobs is None else [j.strip() for j in jobs.split(",") if j.strip()]
        try:
            Registry().get(store)  # an unknown store is one line, before any flow run exists
            stats = asyncio.run(store_pipeline(store, only))
        except Exception as exc:
            fail(f"run-store {store}: {exc}")
        if as_json:
            print(json.dumps(stats, indent=2, default=str))
            return
        for name, job in stats.get("jobs", {}).items():
            console.print(f"{name}: {job.get('status')}")
