"""`multistore setup` and `multistore run-store STORE` (verbs composed in cli/app.py).

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
            Path | None, typer.Option("--pools", help="Pools file (default pools.yaml).")
        ] = None,
        sandbox: Annotated[
            bool,
            typer.Option(
                "--sandbox",
                help="Create the missing block documents with the sandbox's test credentials.",
            ),
        ] = False,
        sandbox_url: Annotated[
            str | None,
            typer.Option(help="With --sandbox: the sandbox's URL (default: settings)."),
        ] = None,
        docker_pool: Annotated[
            bool,
            typer.Option(
                "--docker-pool", help="Also create the Docker work pool (prefect.docker.yaml)."
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Register block types, check every store's block documents (never overwritten),
        create the pools and the work pool."""
        from flows.setup import setup

        try:
            summary = asyncio.run(
                setup(
                    sandbox_url=sandbox_url,
                    pools_file=pools_file,
                    seed_sandbox=sandbox,
                    docker_pool=docker_pool,
                )
            )
        except Exception as exc:
            fail(f"setup: {exc}")
        if as_json:
            print(json.dumps(summary, indent=2))
            return
        line = (
            f"setup: {len(summary['block_types'])} block types, "
            f"{len(summary['documents'])} block documents, {len(summary['pools'])} pools, "
            f"{len(summary['alerts'])} alerts"
        )
        if summary["sandbox_url"]:
            line += f"; {len(summary['created'])} created for the sandbox {summary['sandbox_url']}"
            if summary["repointed"]:
                line += f", {len(summary['repointed'])} re-pointed at it"
        console.print(line)
        if summary["missing"]:
            # Not an error: a document is created in the Prefect UI (or by `--sandbox`).
            console.print(
                f"missing block documents ({len(summary['missing'])}): "
                f"{', '.join(summary['missing'])} — create them in the Prefect UI "
                "(Blocks), or `multistore setup --sandbox` for the sandbox"
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
